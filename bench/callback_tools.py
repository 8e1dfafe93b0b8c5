"""Tools of the callback benchmark: a plain call, and one that calls a host tool once."""

from __future__ import annotations

from typing import Any

from snakepit_bridge import Context, tool


@tool
def plain(x: int) -> int:
    return x


@tool
def one_callback(x: int, ctx: Context) -> Any:
    return ctx.call_host("ping", x=x)


@tool
async def aplain(x: int) -> int:
    return x


@tool
async def aone_callback(x: int, ctx: Context) -> Any:
    return await ctx.acall_host("ping", x=x)
