"""A TCP proxy that forwards to a target and can stop forwarding (a network stall), in a thread of the test.

The first ``pass_connections`` connections are forwarded as they are (the tester's preflight is one). Each later
connection is forwarded until the server has sent ``stall_after_server_bytes`` bytes through it; from then on the
proxy forwards nothing in either direction and closes nothing: the socket stays open, as when a network path
silently drops everything. ``stall_after_server_bytes=0`` stalls at the handshake (the client's upgrade request
never arrives), a larger value mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class StallProxy:
    target_port: int
    pass_connections: int = 1
    stall_after_server_bytes: int = 0
    port: int = 0
    connections: int = 0
    stalled: list[int] = field(default_factory=list)
    """The index (from 1) of each connection the proxy stalled."""
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int, budget: int | None
    ) -> None:
        """Copy ``reader`` to ``writer``; with a budget (server → client), stall once it is spent."""
        sent = 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if index in self.stalled:
                    continue  # stalled: swallow everything, say nothing
                if budget is not None and sent + len(data) > budget:
                    writer.write(data[: budget - sent])
                    self.stalled.append(index)
                    continue
                sent += len(data)
                writer.write(data)
                await writer.drain()
            if index not in self.stalled:
                writer.close()
        except (ConnectionError, OSError):
            writer.close()

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        index = self.connections
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        stalls = index > self.pass_connections
        if stalls and self.stall_after_server_bytes == 0:
            self.stalled.append(index)
        budget = self.stall_after_server_bytes if stalls else None
        await asyncio.gather(
            self._pipe(client_reader, server_writer, index, None),
            self._pipe(server_reader, client_writer, index, budget),
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[StallProxy]:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop

            async def start() -> None:
                self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
                self.port = self._server.sockets[0].getsockname()[1]
                ready.set()

            loop.run_until_complete(start())
            loop.run_forever()
            loop.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        assert ready.wait(10), "the stall proxy did not start"
        try:
            yield self
        finally:
            loop = self._loop
            assert loop is not None
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
