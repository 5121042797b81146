// Every error code an operation, the API or a page can show, typed from the engine's throw to the page's render.
// Browser-safe.

export type ErrorCode =
  // the engine's (FreezeframeError)
  | 'not_found'
  | 'busy'
  | 'bad_state'
  | 'invalid'
  | 'criu'
  | 'launch'
  | 'display_in_use'
  | 'images_missing'
  | 'gone'
  // an archive not traced to this installation or a trusted key (server/checkpoints/signing.ts)
  | 'untrusted'
  // images that ask for more than their desktop may have (server/criu/trust.ts)
  | 'untrusted_images'
  | 'internal'
  // reconcile: an operation whose process died before it ended
  | 'interrupted'
  // uploads
  | 'too_large'
  | 'unsupported_media_type'
  // admission (server/admission.ts)
  | 'forbidden_host'
  | 'cross_origin'
  // the page's own (and freezeframe/client's): the server did not answer
  | 'unreachable'
  // freezeframe/client's: the auth check's 401 and 403, answered as text before any route (server/auth.ts)
  | 'unauthorized'
  | 'forbidden';
