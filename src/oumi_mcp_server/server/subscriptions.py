"""Job resource subscriptions: a client watching a job hears when it changes.

Two ways in, one watcher:
- ``resources/subscribe`` / ``resources/unsubscribe`` (protocol versions with the
  initialize handshake): kept per connection, dropped when the connection closes;
  notified with ``notifications/resources/updated`` on that connection.
- ``subscriptions/listen`` streams (2026-07-28): the SDK's listen handler, wrapped
  to know which job URIs each open stream asks for; events go through the bus.

Subscribable: ``jobs://running``, ``jobs://completed``, ``jobs://{job_id}`` and
``jobs://{job_id}/logs``. The JobWatcher (jobs/watch.py) polls live state only while
one of them is watched; when a job changes state the job's URIs are updated, and
when a job joins or leaves a collection, the collection is updated (and listen
streams that asked for it hear that the resource list changed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from typing import Any

from mcp.server.lowlevel.server import Server
from mcp.server.subscriptions import (
    ListenHandler,
    ResourcesListChanged,
    ResourceUpdated,
    SubscriptionBus,
)
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.jobs.watch import Interest, JobChanges, JobWatcher
from oumi_mcp_server.server.requests import client_connection
from oumi_mcp_server.services import Services

logger = logging.getLogger(__name__)

RUNNING_URI = "jobs://running"
COMPLETED_URI = "jobs://completed"
COLLECTIONS = (RUNNING_URI, COMPLETED_URI)
_JOB_URI = re.compile(r"^jobs://(?P<job_id>[^/]+)(?P<logs>/logs)?$")
SUBSCRIBABLE = "jobs://running, jobs://completed, jobs://{job_id} or jobs://{job_id}/logs"


def job_id_of(uri: str) -> str | None:
    """The job id a job URI names (None for the collections and anything else)."""
    if uri in COLLECTIONS:
        return None
    found = _JOB_URI.match(uri)
    return found.group("job_id") if found else None


def interest_in(uris: set[str]) -> Interest:
    ids = {job_id for uri in uris if (job_id := job_id_of(uri)) is not None}
    return Interest(job_ids=frozenset(ids), collections=any(uri in COLLECTIONS for uri in uris))


def uris_changed(changes: JobChanges) -> set[str]:
    """Every URI whose answer changed with these changes."""
    uris = {f"jobs://{job_id}" for job_id in changes.states}
    uris |= {f"jobs://{job_id}/logs" for job_id in changes.states}
    if changes.running_changed:
        uris.add(RUNNING_URI)
    if changes.completed_changed:
        uris.add(COMPLETED_URI)
    return uris


class JobSubscriptions:
    def __init__(self, services: Services, bus: SubscriptionBus, interval_s: float) -> None:
        self._services = services
        self._bus = bus
        self._by_connection: dict[int, tuple[Any, set[str]]] = {}  # resources/subscribe
        self._streams: dict[int, frozenset[str]] = {}  # open subscriptions/listen streams
        self.watcher = JobWatcher(self.interest, self._read_states, self._publish, interval_s)

    # -- what is watched -------------------------------------------------------------

    def interest(self) -> Interest:
        uris = {uri for _, watched in self._by_connection.values() for uri in watched}
        uris |= {uri for watched in self._streams.values() for uri in watched}
        return interest_in(uris)

    def register(self, lowlevel: Server[Any]) -> None:
        """Serve resources/subscribe and unsubscribe, and watch subscriptions/listen."""
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )
        lowlevel.add_request_handler(
            "subscriptions/listen",
            SubscriptionsListenRequestParams,
            _WatchedListen(self._bus, self),
        )

    async def close(self) -> None:
        await self.watcher.close()

    # -- resources/subscribe ---------------------------------------------------------

    async def _subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        await self._check_uri(uri)
        connection = client_connection(ctx)
        key = id(connection)
        if key not in self._by_connection:
            self._by_connection[key] = (connection, set())
            exit_stack = getattr(connection, "exit_stack", None)
            if exit_stack is not None:  # the connection's end drops its subscriptions
                exit_stack.callback(self._by_connection.pop, key, None)
        self._by_connection[key][1].add(uri)
        self.watcher.wake()
        return EmptyResult()

    async def _unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        key = id(client_connection(ctx))
        entry = self._by_connection.get(key)
        if entry is not None:
            entry[1].discard(str(params.uri))
            if not entry[1]:
                del self._by_connection[key]
        return EmptyResult()

    async def _check_uri(self, uri: str) -> None:
        if uri in COLLECTIONS:
            return
        job_id = job_id_of(uri)
        if job_id is None:
            raise MCPError(
                INVALID_PARAMS,
                f"Cannot subscribe to {uri[:200]!r}: only job resources change ({SUBSCRIBABLE}).",
            )
        try:
            jobs = await self._services.job_service()
            known = await jobs.exists(job_id)
        except OumiMcpError as exc:
            raise MCPError(INVALID_PARAMS, exc.describe()) from exc
        if not known:
            raise MCPError(
                INVALID_PARAMS,
                f"No job with id '{job_id}'. Call list_jobs to see the job ids this server knows.",
            )

    # -- subscriptions/listen --------------------------------------------------------

    def stream_opened(self, token: int, uris: frozenset[str]) -> None:
        self._streams[token] = frozenset(
            uri for uri in uris if uri in COLLECTIONS or job_id_of(uri) is not None
        )
        self.watcher.wake()

    def stream_closed(self, token: int) -> None:
        self._streams.pop(token, None)

    # -- polling and telling ---------------------------------------------------------

    async def _read_states(
        self, job_ids: Collection[str] | None, final: Mapping[str, str]
    ) -> dict[str, str]:
        jobs = await self._services.job_service()
        return await jobs.live_states(job_ids, final)

    async def _publish(self, changes: JobChanges) -> None:
        uris = uris_changed(changes)
        for connection, watched in list(self._by_connection.values()):
            for uri in sorted(uris & watched):
                await connection.send_resource_updated(uri)  # best effort: never raises
        if any(uris & watched for watched in self._streams.values()):
            for uri in sorted(uris):
                await self._bus.publish(ResourceUpdated(uri=uri))
        if changes.jobs_added_or_removed or changes.running_changed or changes.completed_changed:
            await self._bus.publish(ResourcesListChanged())
        logger.info("Job watcher: %s updated", ", ".join(sorted(uris)) or "resource list")


class _WatchedListen(ListenHandler):
    """The SDK's listen stream, telling JobSubscriptions which URIs it watches."""

    def __init__(self, bus: SubscriptionBus, subscriptions: JobSubscriptions) -> None:
        super().__init__(bus)
        self._subscriptions = subscriptions

    async def __call__(
        self, ctx: Any, params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        token = id(params)
        uris = frozenset(params.notifications.resource_subscriptions or ())
        self._subscriptions.stream_opened(token, uris)
        try:
            return await super().__call__(ctx, params)
        finally:
            self._subscriptions.stream_closed(token)
