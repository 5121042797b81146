// The files of a checkpoint or desktop that another host of the fleet has (a thumbnail, an export), for this host's
// pages: the owner's answer passed through with the fleet key, as it comes. undefined: no other host has it.
import 'server-only';
import { getEngine } from '../engineHandle';
import { ownerElsewhere } from './watch';

/** After this host answered 404 for a checkpoint: the same GET on the host the catalog lists it on. */
export async function checkpointFileElsewhere(checkpointId: string, path: string): Promise<Response | undefined> {
  const { fleet } = getEngine();
  if (!fleet) return undefined;
  const { checkpointOwner, passThrough } = await import('../fleet/remote');
  const owner = checkpointOwner(fleet, checkpointId);
  return owner && passThrough(fleet, owner, path);
}

/** A desktop that runs on another host: the same GET there. */
export async function desktopFileElsewhere(desktopId: string, path: string): Promise<Response | undefined> {
  const owner = await ownerElsewhere(desktopId);
  if (!owner) return undefined;
  const { passThrough } = await import('../fleet/remote');
  return passThrough(getEngine().fleet!, owner, path);
}
