import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';

/** How long a connection refused at the parser may go on sending before it is cut off, as nginx's lingering close. */
const LINGER_MS = 1000;

/**
 * Ends a connection whose answer is written, reading and dropping what the client still sends until it closes its
 * side or {@link LINGER_MS} pass, so the answer is not lost to a reset.
 */
export function closeAfterReading(socket: Socket): void {
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  socket.end();
  socket.resume();
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

/**
 * The connection of a request whose body is left unread closes once its answer is sent. Kept open, the client's upload
 * stalled against a server no longer reading it: a browser, which reads the answer only once its upload is sent,
 * waited for the request timeout (30 s on `graft serve`, for ever on `graft ui`) to see a 413.
 */
export function closeWhenAnswered(reply: FastifyReply): void {
  void reply.header('connection', 'close');
  const socket = reply.request.raw.socket;
  reply.raw.once('finish', () => closeAfterReading(socket));
}
