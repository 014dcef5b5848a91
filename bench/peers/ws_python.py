#!/usr/bin/python3
"""ws_python.py - benchmark peer: python3-websockets (Debian) serving
/echo (echo every message) and /chat (broadcast every text message to every
connected client, the sender included), the jobs our /echo and /chat do.
Started by bench/ws.sh with /usr/bin/python3, pinned to one core.

    usage: /usr/bin/python3 ws_python.py PORT
"""
import asyncio
import signal
import sys

import websockets

CHAT_CLIENTS = set()


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def chat(ws):
    CHAT_CLIENTS.add(ws)
    try:
        async for message in ws:
            if isinstance(message, str):
                websockets.broadcast(CHAT_CLIENTS, message)
    finally:
        CHAT_CLIENTS.discard(ws)


async def route(ws, path):
    try:
        if path == "/echo":
            await echo(ws)
        elif path == "/chat":
            await chat(ws)
        else:
            await ws.close(1008, "unknown path")
    except websockets.ConnectionClosed:
        pass  # a client that leaves without a close frame is not an error here


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with websockets.serve(route, "127.0.0.1", port, compression=None,
                                max_size=16 * 1024 * 1024, backlog=1024):
        print(f"python-websockets peer on 127.0.0.1:{port} (/echo, /chat)", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
