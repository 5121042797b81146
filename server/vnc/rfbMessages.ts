// RFB client-to-server messages as bytes, shared by every RFB client here (thumbnails, tests, benches).

/** FramebufferUpdateRequest (type 3) for the rectangle x, y, width × height. */
export function updateRequest(incremental: boolean, width: number, height: number, x = 0, y = 0): Buffer {
  const msg = Buffer.alloc(10);
  msg.writeUInt8(3, 0);
  msg.writeUInt8(incremental ? 1 : 0, 1);
  msg.writeUInt16BE(x, 2);
  msg.writeUInt16BE(y, 4);
  msg.writeUInt16BE(width, 6);
  msg.writeUInt16BE(height, 8);
  return msg;
}
