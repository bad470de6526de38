"""The domain services one server process shares across its tools."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.settings import CLOUD_CHECK_CACHE_S, Settings


@dataclass
class Services:
    settings: Settings
    cloud_checker: CloudChecker
    started_at: float = field(default_factory=time.time)

    @classmethod
    def create(cls, settings: Settings, *, cloud_checker: CloudChecker | None = None) -> Services:
        return cls(
            settings=settings,
            cloud_checker=cloud_checker
            or CloudChecker(timeout_s=settings.cloud_check_timeout_s, cache_s=CLOUD_CHECK_CACHE_S),
        )
