"""The control API under `/sim/` for tests, benchmarks and the demo.

    POST /sim/bots/<token>/users     [{"id":1,"state":"active","first_name":"Ana"}]  (upsert)
    POST /sim/bots/<token>/limits    {"per_second":30,"paid_per_second":1000,"per_chat_burst":3}
    POST /sim/bots/<token>/updates   {"start":[ids]} / {"block":[ids]} / {"unblock":[ids]}
                                     / {"message":[{"id":1,"text":"Ainda tem?"}]}  (a user
                                     writes to the bot; only an active user can)
    POST /sim/bots/<token>/revoke    the token answers 401 from now on (until reset)
    POST /sim/bots/<token>/me        {"id":42,"is_bot":false,"username":"ana"}: getMe answers
                                     these fields over the bot's own ({} restores them)
    GET  /sim/bots/<token>/messages?chat_id=   every delivered message, in order; an edited one
                                     shows its new content, "edited":true and its edit_date; a
                                     deleted one stays listed with "deleted":true
    POST /sim/bots/<token>/messages/age {"hours":49,"chat_id":1,"message_ids":[1,2]}  moves
                                     messages into the past (all the bot's, one chat's, or some
                                     of it), so deleteMessage's 48-hour rule can be reached
    GET  /sim/bots/<token>/users, GET /sim/bots/<token>/limits
    POST /sim/faults {"error_5xx":0.05,"drop":0.02,"slow":0.01,"slow_s":15,"drop_delivered":0,
                      "retry_after_storm":{"bot":"<token or id>","seconds":5},
                      "ignore_poll_timeout":true,  (getUpdates answers at once, ignoring timeout)
                      "latency_ms":40,"latency_jitter_ms":10}    (replaces the faults; {} clears)
    GET  /sim/faults, GET /sim/stats (per bot id, never token; messages delivered, edited and
         deleted), POST /sim/reset, GET /sim/health

Answers use Telegram's envelope: {"ok":true,"result":...} or {"ok":false,...,"description"}.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

import orjson

from disparo.simulator.content import TEXT_LIMIT
from disparo.simulator.errors import ApiError, ok_body
from disparo.simulator.exchange import Request, Response
from disparo.simulator.faults import Faults, Storm, share
from disparo.simulator.limits import Limits
from disparo.simulator.state import USER_STATES, BotState, bot_id_of
from disparo.simulator.world import World

_PROFILE_FIELDS = ("first_name", "last_name", "username", "language_code")
_ME_FIELDS: dict[str, type] = {
    "id": int,
    "is_bot": bool,
    "first_name": str,
    "last_name": str,
    "username": str,
}


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "Bad Request: " + detail)


def _int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _invalid(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


class Control:
    """Handlers of the `/sim/` paths."""

    def __init__(self, world: World) -> None:
        self.world = world

    def handle(self, request: Request) -> Response:
        """Route and answer one control request."""
        try:
            result = self._route(request)
        except ApiError as error:
            return Response(error.code, error.body())
        return Response(200, ok_body(result))

    def _route(self, request: Request) -> Any:
        parts = request.path.rstrip("/").split("/")[2:]
        verb = request.method
        if parts == ["health"]:
            return True
        if parts == ["stats"]:
            return self.stats()
        if parts == ["reset"] and verb == "POST":
            self.world.reset()
            return True
        if parts == ["faults"]:
            if verb == "POST":
                self.set_faults(self._body(request))
            return self.world.faults.describe(self.world.clock()) | {
                "latency_ms": self.world.latency.mean_ms,
                "latency_jitter_ms": self.world.latency.jitter_ms,
            }
        if len(parts) in (3, 4) and parts[0] == "bots":
            bot = self.world.bot(parts[1])
            if bot is None:
                raise _invalid("the path must hold a well-formed token <digits>:<35 characters>")
            if parts[2:] == ["messages", "age"] and verb == "POST":
                return {"aged": self.age_messages(bot, self._body(request))}
            if len(parts) == 3:
                return self._bot_route(bot, parts[2], verb, request)
        raise ApiError(404, "Not Found")

    def _bot_route(self, bot: BotState, what: str, verb: str, request: Request) -> Any:
        if what == "users":
            if verb == "POST":
                return self.upsert_users(bot, self._body(request))
            return [self._user_view(bot, user_id) for user_id in bot.users]
        if what == "limits":
            if verb == "POST":
                self.set_limits(bot, self._body(request))
            return asdict(bot.limits)
        if what == "updates" and verb == "POST":
            return self.queue_updates(bot, self._body(request))
        if what == "revoke" and verb == "POST":
            body = self._body(request) if request.body else {}
            bot.revoked = bool(body.get("revoked", True)) if isinstance(body, dict) else True
            return {"revoked": bot.revoked}
        if what == "me":
            if verb == "POST":
                bot.answer_me_as(self._me_fields(self._body(request)))
            return bot.me
        if what == "messages":
            query = dict(parse_qsl(request.query))
            if query.get("chat_id"):
                user = bot.users.get(_int(_to_int(query["chat_id"]), "chat_id", -(2**62)))
                return [d.view() for d in user.deliveries.values()] if user else []
            return [delivery.view() for delivery in bot.deliveries]
        raise ApiError(404, "Not Found")

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return orjson.loads(request.body or b"{}")
        except orjson.JSONDecodeError:
            raise _invalid("the body must be JSON") from None

    def _user_view(self, bot: BotState, user_id: int) -> dict[str, Any]:
        user = bot.users[user_id]
        return {"id": user.id, "state": user.state, **user.as_user(), "messages": user.sent}

    def upsert_users(self, bot: BotState, body: Any) -> dict[str, int]:
        """Add or change users: id, state, and optional names and language."""
        users = body.get("users") if isinstance(body, dict) else body
        if not isinstance(users, list):
            raise _invalid('send a list of users: [{"id":1,"state":"active","first_name":"Ana"}]')
        for item in users:
            if not isinstance(item, dict):
                raise _invalid(f"each user must be an object, got {item!r}")
            user = bot.user(_int(item.get("id"), "id", -(2**62)))
            state = item.get("state", user.state)
            if state not in USER_STATES:
                raise _invalid(f"state must be one of {', '.join(USER_STATES)}, got {state!r}")
            user.state = state
            profile = {name: item[name] for name in _PROFILE_FIELDS if name in item}
            if profile:
                user.update_profile(**profile)
        return {"upserted": len(users)}

    @staticmethod
    def age_messages(bot: BotState, body: Any) -> int:
        """Make messages `hours` older; how many were aged."""
        if not isinstance(body, dict) or not set(body) <= {"hours", "chat_id", "message_ids"}:
            raise _invalid('send {"hours":49}, optionally with "chat_id" and "message_ids"')
        hours = _number(body.get("hours"), "hours")
        chat_id = body.get("chat_id")
        if chat_id is not None:
            chat_id = _int(chat_id, "chat_id", -(2**62))
        message_ids = body.get("message_ids")
        if message_ids is not None:
            if chat_id is None or not isinstance(message_ids, list):
                raise _invalid("message_ids must be a list of ids, given with chat_id")
            message_ids = [_int(message_id, "message id", 1) for message_id in message_ids]
        return bot.age(hours * 3600, chat_id, message_ids)

    @staticmethod
    def _me_fields(body: Any) -> dict[str, Any]:
        """User fields getMe should answer with, checked by type."""
        if not isinstance(body, dict) or not set(body) <= set(_ME_FIELDS):
            raise _invalid(f"send an object with some of {', '.join(_ME_FIELDS)}")
        for name, value in body.items():
            kind = _ME_FIELDS[name]
            if isinstance(value, bool) is not (kind is bool) or not isinstance(value, kind):
                raise _invalid(f"{name} must be of type {kind.__name__}, got {value!r}")
        return body

    def set_limits(self, bot: BotState, body: Any) -> None:
        """Change one bot's flood limits; keys left out keep their value."""
        if not isinstance(body, dict):
            raise _invalid('send an object such as {"per_second":30}')
        current = bot.limits
        per_chat_rate = body.get("per_chat_per_second", current.per_chat_per_second)
        if _number(per_chat_rate, "per_chat_per_second") <= 0:
            raise _invalid("per_chat_per_second must be > 0")
        bot.set_limits(
            Limits(
                _int(body.get("per_second", current.per_second), "per_second", 1),
                _int(body.get("paid_per_second", current.paid_per_second), "paid_per_second", 1),
                _int(body.get("per_chat_burst", current.per_chat_burst), "per_chat_burst", 1),
                float(per_chat_rate),
            )
        )

    def queue_updates(self, bot: BotState, body: Any) -> dict[str, list[int]]:
        """Users send /start, block or unblock the bot, or write to it; updates are queued in
        that order. Messages are checked before anything is queued."""
        if not isinstance(body, dict) or not set(body) <= {"start", "block", "unblock", "message"}:
            raise _invalid(
                'send {"start":[ids]}, {"block":[ids]}, {"unblock":[ids]} or '
                '{"message":[{"id":1,"text":"..."}]}'
            )
        messages = self._messages(bot, body.get("message", []))
        actions = {"start": bot.start, "block": bot.block, "unblock": bot.unblock}
        now = self.world.wall_clock()
        update_ids: list[int] = []
        for action, ids in body.items():
            if action == "message":
                for user_id, text in messages:
                    update_ids.extend(bot.write(bot.user(user_id), text, now))
                continue
            if not isinstance(ids, list):
                raise _invalid(f"{action} must be a list of user ids")
            for user_id in ids:
                user = bot.user(_int(user_id, "user id", -(2**62)))
                update_ids.extend(actions[action](user, now))
        return {"update_ids": update_ids}

    @staticmethod
    def _messages(bot: BotState, items: Any) -> list[tuple[int, str]]:
        """(user id, text) of each message; a user must be active to write (a blocked bot's
        chat offers only "Restart", a deleted account writes nothing)."""
        if not isinstance(items, list):
            raise _invalid('message must be a list such as [{"id":1,"text":"Ainda tem?"}]')
        checked = []
        for item in items:
            if not isinstance(item, dict):
                raise _invalid(f"each message must be an object, got {item!r}")
            user_id = _int(item.get("id"), "id", -(2**62))
            text = item.get("text")
            if not isinstance(text, str) or not 0 < len(text) <= TEXT_LIMIT:
                raise _invalid(f"message text of user {user_id} must be 1-{TEXT_LIMIT} characters")
            known = bot.users.get(user_id)
            state = known.state if known is not None else "active"
            if state != "active":
                raise _invalid(f"user {user_id} is {state}: only an active user writes to a bot")
            checked.append((user_id, text))
        return checked

    def set_faults(self, body: Any) -> None:
        """Replace the injected faults; latency changes only when given."""
        if not isinstance(body, dict):
            raise _invalid('send an object such as {"error_5xx":0.05}')
        world = self.world
        faults = Faults(
            error_5xx=share(body.get("error_5xx", 0), "error_5xx"),
            drop=share(body.get("drop", 0), "drop"),
            slow=share(body.get("slow", 0), "slow"),
            slow_s=_number(body.get("slow_s", world.config.slow_s), "slow_s"),
            drop_delivered=share(body.get("drop_delivered", 0), "drop_delivered"),
        )
        if faults.error_5xx + faults.drop + faults.slow + faults.drop_delivered > 1:
            raise _invalid("error_5xx + drop + slow + drop_delivered must not exceed 1")
        storm = body.get("retry_after_storm")
        if storm:
            faults.storm = self._storm(storm)
        ignore = body.get("ignore_poll_timeout", False)
        if not isinstance(ignore, bool):
            raise _invalid(f"ignore_poll_timeout must be true or false, got {ignore!r}")
        faults.ignore_poll_timeout = ignore
        if "latency_ms" in body or "latency_jitter_ms" in body:
            mean = _number(body.get("latency_ms", world.latency.mean_ms), "latency_ms")
            jitter = _number(
                body.get("latency_jitter_ms", world.latency.jitter_ms), "latency_jitter_ms"
            )
            world.latency.set(mean, jitter)
        world.faults = faults

    def _storm(self, storm: Any) -> Storm:
        if not isinstance(storm, dict):
            raise _invalid('retry_after_storm must be {"bot":"<token>","seconds":5}')
        bot = storm.get("bot")
        bot_id = bot_id_of(bot) if isinstance(bot, str) else None
        if bot_id is None:
            candidate = _to_int(bot)
            if isinstance(candidate, bool) or not isinstance(candidate, int):
                raise _invalid("retry_after_storm.bot must be a bot token or a bot id")
            bot_id = candidate
        seconds = _number(storm.get("seconds"), "retry_after_storm.seconds")
        return Storm(bot_id, self.world.clock() + seconds)

    def stats(self) -> dict[str, Any]:
        """Per-bot counters keyed by bot id, and their totals."""
        bots = {str(bot.bot_id): bot.describe_stats() for bot in self.world.bots.values()}
        totals: dict[str, int] = {}
        for counters in bots.values():
            for key, value in counters.items():
                if isinstance(value, int) and key != "messages_per_chat_max":
                    totals[key] = totals.get(key, 0) + value
            totals["duplicates"] = totals.get("duplicates", 0) + counters["duplicates"]["count"]
        return {"bots": bots, "totals": totals, "unauthorized": self.world.unauthorized}


def _to_int(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value
