"""The kernel manager of a published dashboard: Voilà starts a kernel per page load, so a page
reloaded in a loop (or left open in many tabs) could start kernels until the machine runs out
of memory. This one refuses new kernels beyond ``max_kernels`` with a 503 that says why, and
idle kernels are culled (see ``publish``)."""

from __future__ import annotations

from typing import Any

import tornado.web
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer


class LimitedKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    max_kernels = Integer(8, config=True, help="Most kernels the dashboard runs at once.")

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if len(self.list_kernel_ids()) >= self.max_kernels:
            why = (
                f"this dashboard already serves {self.max_kernels} open pages; close one or "
                "try again in a few minutes"
            )
            raise tornado.web.HTTPError(503, why, reason=why)  # the reason is what the page shows
        return str(await super().start_kernel(*args, **kwargs))
