"""The kernel manager of a published dashboard: Voilà starts a kernel per page load, so a page
reloaded in a loop (or left open in many tabs) could start kernels until the machine runs out
of memory. This one refuses pages beyond ``max_kernels`` with a 503 that says why, and idle
kernels are culled (see ``publish``). Voilà keeps one more kernel warm, the notebook already run
in it, for the next visitor (its preheated pool): that one is not counted (nor culled: Voilà's
own subclass of this one sees to that)."""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer


class LimitedKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    max_kernels = Integer(8, config=True, help="Most kernels the dashboard runs at once.")

    def _waiting(self) -> int:
        """Kernels started for the next visitors and waiting in Voilà's pool (not pages)."""
        pools = getattr(self, "_pools", {}).values()
        return sum(1 for pool in pools for item in pool if item.done() and not _failed(item))

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        # A page, or a warm kernel for the next one: either way a page's room is needed.
        if len(self.list_kernel_ids()) - self._waiting() >= self.max_kernels:
            why = (
                f"this dashboard already serves {self.max_kernels} open pages; close one or "
                "try again in a few minutes"
            )
            raise tornado.web.HTTPError(503, why, reason=why)  # the reason is what the page shows
        return str(await super().start_kernel(*args, **kwargs))

    async def shutdown_kernel(  # type: ignore[override]
        self, kernel_id: str, *args: Any, **kwargs: Any
    ) -> None:
        """A page closed: the warm kernel refused for want of room is started now."""
        await super().shutdown_kernel(kernel_id, *args, **kwargs)
        for name, pool in getattr(self, "_pools", {}).items():
            for item in [item for item in pool if item.done() and _failed(item)]:
                pool.remove(item)
            # the pool is Voilà's (its subclass of this class): topped up to its size
            self.fill_if_needed(delay=0, notebook_name=name)  # type: ignore[attr-defined]


def _failed(task: Any) -> bool:
    return bool(task.cancelled() or task.exception() is not None)
