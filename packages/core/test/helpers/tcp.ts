import * as net from 'node:net';

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A port nothing listens on: connecting to it is refused at once. */
export async function deadPort(): Promise<number> {
  return freePort();
}

export interface TcpServer {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Most connections open at once. */
  readonly peak: number;
  /** Drops every open connection, keeps listening (a server restart or an idle timeout). */
  dropAll(): void;
  close(): Promise<void>;
}

function track(srv: net.Server, onConnection: (socket: net.Socket) => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let peak = 0;
  srv.on('connection', (socket) => {
    accepted += 1;
    sockets.add(socket);
    peak = Math.max(peak, sockets.size);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        get accepted() {
          return accepted;
        },
        get open() {
          return sockets.size;
        },
        get peak() {
          return peak;
        },
        dropAll: () => {
          for (const s of sockets) s.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            srv.close(() => done());
          }),
      });
    });
  });
}

/** Accepts TCP connections and never says a word: a directory that hangs. */
export function hangingServer(): Promise<TcpServer> {
  return track(net.createServer(), () => undefined);
}

/** Forwards to 127.0.0.1:targetPort and counts connections, to see how many the backend opens. */
export function countingProxy(targetPort: number): Promise<TcpServer> {
  return track(net.createServer(), (client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
}
