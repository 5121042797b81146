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

/**
 * An event relayed from another host's stream (it redacted it already): its passwords dropped again here all the
 * same, as this host would its own, whatever that host runs (never a secret in a broadcast).
 */
export function relayedEventView(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const event = { ...(data as Record<string, unknown>) };
  if (typeof event.desktop === 'object' && event.desktop !== null) {
    const { vncPassword: _control, vncViewPassword: _view, ...desktop } = event.desktop as Record<string, unknown>;
    event.desktop = desktop;
  }
  const checkpoint = event.checkpoint as Record<string, unknown> | undefined;
  if (typeof checkpoint === 'object' && checkpoint !== null && typeof checkpoint.desktopSpec === 'object' && checkpoint.desktopSpec !== null) {
    const { vncPassword: _control, vncViewPassword: _view, ...spec } = checkpoint.desktopSpec as Record<string, unknown>;
    event.checkpoint = { ...checkpoint, desktopSpec: spec };
  }
  return event;
}
