"""``content_filter``: the provider's content filter stops the answer after N tokens.

The stream ends normally but early, with the format's content-filter finish: OpenAI and Azure
``finish_reason: "content_filter"`` (Azure also marks ``content_filter_results``), Responses
``response.incomplete`` (``reason: content_filter``), Anthropic ``stop_reason: "refusal"``,
Gemini ``finishReason: "SAFETY"``, Bedrock Converse ``stopReason: "content_filtered"``; Ollama
filters nothing and says ``done_reason: "stop"``. A non-streaming answer is cut the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..script.build import Plan
from ..script.events import Finish, TextDelta
from .base import Positioned


@dataclass(frozen=True)
class ContentFilterFault(Positioned, type="content_filter"):
    summary = "end the answer early with the format's content-filter finish reason"
    terminal = True

    def apply(self, plan: Plan) -> None:
        i = plan.index_after_tokens(self.token_position(plan))
        at = plan.time_before(i) if i else plan.time_at(i)
        plan.truncate(i)
        plan.insert(i, Finish("content_filter"), at)
        plan.text = "".join(t.event.text for t in plan.events if isinstance(t.event, TextDelta))
