"""The bare NATS baseline of bench/cluster.ts: a Python nats-py responder that echoes every request."""

import asyncio
import sys

import nats


async def main() -> None:
    nc = await nats.connect(sys.argv[1])

    async def handler(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(msg.data)

    await nc.subscribe("bench.echo", cb=handler)
    await nc.flush()
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
