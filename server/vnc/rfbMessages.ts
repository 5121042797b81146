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

/** KeyEvent (type 4): an X keysym pressed (down) or released; printable ASCII's keysym is its code. */
export function keyEvent(down: boolean, keysym: number): Buffer {
  const msg = Buffer.alloc(8);
  msg.writeUInt8(4, 0);
  msg.writeUInt8(down ? 1 : 0, 1);
  msg.writeUInt32BE(keysym, 4);
  return msg;
}

/** PointerEvent (type 5): the pointer at x, y with these buttons down (bit 0: the left one). */
export function pointerEvent(buttons: number, x: number, y: number): Buffer {
  const msg = Buffer.alloc(6);
  msg.writeUInt8(5, 0);
  msg.writeUInt8(buttons, 1);
  msg.writeUInt16BE(x, 2);
  msg.writeUInt16BE(y, 4);
  return msg;
}
