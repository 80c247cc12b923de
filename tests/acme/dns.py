"""A tiny authoritative DNS server on loopback for dns-01: answers TXT
queries from what the certbot auth hook wrote (one file per name, one
value per line) and NXDOMAIN otherwise."""
from __future__ import annotations

import os
import socketserver
import tempfile
import threading

from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            query = DNSRecord.parse(data)
        except Exception:
            return
        reply = query.reply()
        name = str(query.q.qname).rstrip(".").lower()
        path = os.path.join(self.server.records, name)
        values = []
        if query.q.qtype == QTYPE.TXT and os.path.exists(path):
            with open(path) as f:
                values = [v.strip() for v in f if v.strip()]
        for value in values:
            reply.add_answer(RR(query.q.qname, QTYPE.TXT, ttl=0, rdata=TXT(value)))
        if not values:
            reply.header.rcode = RCODE.NXDOMAIN
        sock.sendto(reply.pack(), self.client_address)


class TxtServer:
    def __init__(self):
        self.records = tempfile.mkdtemp(prefix="acme-dns-")
        self._server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _Handler)
        self._server.records = self.records
        self.address = "%s:%d" % self._server.server_address
        self._thread = None

    def start(self):
        import threading
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
