// What leaves the server in lists and broadcasts: records without their VNC passwords. Pure.
import type { CheckpointRecord, DesktopRecord } from '../desktops/records';
import type { DesktopEvent } from '../desktops/events';
import type { CheckpointView, DesktopEventView, DesktopView } from '../../lib/viewTypes';

export function desktopView(record: DesktopRecord): DesktopView {
  const { vncPassword: _control, vncViewPassword: _view, ...rest } = record;
  return rest;
}

export function checkpointView<T extends CheckpointRecord>(record: T): Omit<T, 'desktopSpec'> & Pick<CheckpointView, 'desktopSpec'> {
  if (!record.desktopSpec) return record;
  const { vncPassword: _control, vncViewPassword: _view, ...spec } = record.desktopSpec;
  return { ...record, desktopSpec: spec };
}

export function eventView(event: DesktopEvent): DesktopEventView {
  return { ...event, desktop: desktopView(event.desktop), checkpoint: event.checkpoint && checkpointView(event.checkpoint) };
}
