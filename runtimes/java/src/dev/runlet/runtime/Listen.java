package dev.runlet.runtime;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where a server listens: HOST:PORT (TCP) wins over a Unix socket path, as in every runtime. */
final class Listen {
  private Listen() {}

  static ServerSocketChannel open(String address, String socketPath) throws IOException {
    if (address != null && !address.isEmpty()) {
      int colon = address.lastIndexOf(':');
      if (colon < 0) {
        throw new IOException("malformed address " + address + " (expected HOST:PORT)");
      }
      String host = address.substring(0, colon).replace("[", "").replace("]", "");
      int port = Integer.parseInt(address.substring(colon + 1));
      ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.INET6);
      SocketAddress where = new InetSocketAddress(host, port);
      try {
        server.bind(where, 512);
      } catch (IOException e) {
        server.close();
        server = ServerSocketChannel.open();
        server.bind(where, 512);
      }
      return server;
    }
    Path path = Path.of(socketPath);
    Files.deleteIfExists(path);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(path), 512);
    return server;
  }
}
