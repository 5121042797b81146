// Fetching every lazy page of a `criu dump --lazy-pages` into its own images (a post-copy move that failed before
// the target fetched anything): criu's page-server protocol as its lazy-pages daemon speaks it (page-xfer.c), one
// PS_IOV_GET per lazy run of each process, then PS_IOV_CLOSE, which ends the dump as served (it kills its frozen
// tree and exits, closing the TCP sockets it kept in repair mode). The images are then whole: an ordinary restore.
// Why not `criu lazy-pages` + `criu restore --lazy-pages` beside the serving dump: that dump keeps a dup of every TCP
// socket of the tree in repair mode until it exits (sk-tcp.c tcp_repair_established), so a restore that repairs the
// viewers' connections fails ("Can't connect inet socket back: Cannot assign requested address", measured).
import 'server-only';
import { once } from 'node:events';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { notInImages, PE_PRESENT, pageSize, parsePagemap, writePagemap } from '../storage/pagemap';
import { FreezeframeError } from '../errors';

const PS_IOV_ADD_F = 6;
const PS_IOV_GET = 7;
const PS_IOV_CLOSE = 0x1023;
const PS_CMD_MASK = 0xffff;

/** struct page_server_iov: u32 cmd, (padding), u64 nr_pages, u64 vaddr, u64 dst_id. */
function psi(cmd: number, nrPages: number, vaddr: bigint, dstId: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(cmd, 0);
  b.writeBigUInt64LE(BigInt(nrPages), 8);
  b.writeBigUInt64LE(vaddr, 16);
  b.writeBigUInt64LE(BigInt(dstId), 24);
  return b;
}

/** A socket read as exact lengths. */
function reader(socket: net.Socket) {
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  let ended: Error | undefined;
  socket.on('data', (chunk: Buffer) => { buffered = Buffer.concat([buffered, chunk]); waiting?.(); });
  socket.on('close', () => { ended ??= new Error('the page server closed the connection'); waiting?.(); });
  socket.on('error', (error) => { ended = error; waiting?.(); });
  return async (n: number): Promise<Buffer> => {
    while (buffered.length < n) {
      if (ended) throw ended;
      await new Promise<void>((resolve) => { waiting = resolve; });
      waiting = undefined;
    }
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
}

/** Every lazy page into imagesDir's pages files (their pagemaps then say present), and the session closed. */
export async function fetchLazyPages(imagesDir: string, server: { address: string; port: number }, timeoutMs = 120_000): Promise<{ pages: number }> {
  const socket = net.connect(server.port, server.address);
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from the page server in ${timeoutMs / 1000} s`)));
  socket.on('error', () => {});
  const read = reader(socket);
  await once(socket, 'connect');
  let fetched = 0;
  try {
    const written: [string, Buffer][] = [];
    for (const name of (await readdir(imagesDir)).sort()) {
      const pid = /^pagemap-(\d+)\.img$/.exec(name)?.[1];
      if (!pid) continue;
      const map = parsePagemap(await readFile(path.join(imagesDir, name)));
      if (!map.entries.some(notInImages)) continue;
      const pagesName = `pages-${map.pagesId}.img`;
      const local = await readFile(path.join(imagesDir, pagesName)).catch(() => Buffer.alloc(0));
      const parts: Buffer[] = [];
      let offset = 0;
      for (const entry of map.entries) {
        if (notInImages(entry)) {
          // The dump may answer a run in parts (page_pipe_read clamps to one of its buffers).
          for (let vaddr = entry.vaddr, left = entry.nrPages; left > 0; ) {
            socket.write(psi(PS_IOV_GET, left, vaddr, Number(pid)));
            const head = await read(32);
            const cmd = head.readUInt32LE(0) & PS_CMD_MASK;
            const n = Number(head.readBigUInt64LE(8));
            if (cmd !== PS_IOV_ADD_F || n < 1 || n > left || head.readBigUInt64LE(16) !== vaddr) {
              throw new FreezeframeError('criu', `the page server answered ${cmd}/${n} pages at 0x${head.readBigUInt64LE(16).toString(16)} for ${left} pages at 0x${vaddr.toString(16)} of process ${pid}`);
            }
            parts.push(Buffer.from(await read(n * pageSize)));
            fetched += n;
            left -= n;
            vaddr += BigInt(n * pageSize);
          }
          // As any dump writes them: present, and still fit for a lazy restore.
          entry.flags |= PE_PRESENT;
        } else if (entry.flags & PE_PRESENT) {
          parts.push(local.subarray(offset, offset + entry.nrPages * pageSize));
          offset += entry.nrPages * pageSize;
        }
      }
      written.push([pagesName, Buffer.concat(parts)], [name, writePagemap(map)]);
    }
    // Every page in hand before anything is written, and before the dump is told it is over.
    for (const [name, data] of written) {
      await writeFile(path.join(imagesDir, `${name}.tmp`), data, { mode: 0o600 });
      await rename(path.join(imagesDir, `${name}.tmp`), path.join(imagesDir, name));
    }
    socket.write(psi(PS_IOV_CLOSE, 0, 0n, 0));
    await read(4);
    return { pages: fetched };
  } catch (error) {
    // Not an EOF, which the dump takes for the end of a served session (and kills its tree): a command it does not
    // know fails the session, and criu resumes the tree rather than lose it.
    socket.write(psi(0, 0, 0n, 0));
    throw error;
  } finally {
    socket.destroy();
  }
}
