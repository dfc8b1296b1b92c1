"""A TLS-terminating relay on Python's standard ssl module (OpenSSL): it
accepts TLS on 127.0.0.1:LISTEN and forwards the plaintext to
127.0.0.1:TARGET (a plaintext Kafka broker). The Rust tests put it in front
of tansu, which advertises LISTEN, so every connection a client makes goes
through TLS.

Usage: tls_relay.py LISTEN TARGET CERT KEY [CLIENT_CA]
With CLIENT_CA, clients must present a certificate that CA signed (mutual
TLS). Prints "listening" on stdout once it accepts connections; logs
handshake failures on stderr.
"""
import select
import socket
import ssl
import sys
import threading


def relay(tls, upstream):
    """Copies both ways on one thread (an SSL object must not be used by
    two threads at once) until either side closes."""
    try:
        while True:
            readable = [tls] if tls.pending() else select.select([tls, upstream], [], [])[0]
            if tls in readable:
                try:
                    data = tls.recv(65536)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                upstream.sendall(data)
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                tls.sendall(data)
    except (OSError, ssl.SSLError) as error:
        print(f"tls_relay: connection ended: {error}", file=sys.stderr)
    finally:
        for s in (tls, upstream):
            try:
                s.close()
            except OSError:
                pass


def serve(conn, context, target):
    try:
        tls = context.wrap_socket(conn, server_side=True)
    except (OSError, ssl.SSLError) as error:
        print(f"tls_relay: handshake failed: {error}", file=sys.stderr)
        conn.close()
        return
    try:
        upstream = socket.create_connection(("127.0.0.1", target))
    except OSError as error:
        print(f"tls_relay: upstream refused: {error}", file=sys.stderr)
        tls.close()
        return
    relay(tls, upstream)


def main():
    listen, target, cert, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if len(sys.argv) > 5:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(sys.argv[5])
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen))
    server.listen(64)
    print("listening", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn, context, target), daemon=True).start()


if __name__ == "__main__":
    main()
