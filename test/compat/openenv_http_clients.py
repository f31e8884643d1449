"""OpenEnv's two Python client styles, as they parse replies, against a live envbox server over HTTP.

Models are written from OpenEnv's declarations (see openenv-models.ts for the sources), not from
envbox's schemas:
- current: pydantic models with extra="forbid" on observations (`CodeObservation(**obs)` raises
  ValidationError on an undeclared field), `CodeState(last_exit_code=...)` as an int;
- October 2025: dataclasses (`CodeObservation(**obs)` raises TypeError on an undeclared key).

Usage: python3 openenv_http_clients.py BASE_URL coding_env|echo_env
Prints one JSON object: {"ok": true, "checks": [...]} or exits 1 with the client's own error.
"""

import dataclasses
import json
import sys
from typing import Any, Dict, Optional, Union

import requests
from pydantic import BaseModel, ConfigDict, Field


class Observation(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    done: bool = False
    reward: Union[bool, int, float, None] = None
    metadata: Dict[str, Any] = Field(default_factory=dict)


class State(BaseModel):
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    episode_id: Optional[str] = None
    step_count: int = Field(default=0, ge=0)


class CodeObservation(Observation):
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


class CodeState(State):
    last_exit_code: int = 0


class EchoObservation(Observation):
    echoed_message: str
    message_length: int = 0


@dataclasses.dataclass(kw_only=True)
class DataclassObservation:
    done: bool = False
    reward: Union[bool, int, float, None] = None
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class DataclassCodeObservation(DataclassObservation):
    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


@dataclasses.dataclass(kw_only=True)
class DataclassEchoObservation(DataclassObservation):
    echoed_message: str
    message_length: int = 0


MODELS = {
    "coding_env": (CodeObservation, DataclassCodeObservation, CodeState),
    "echo_env": (EchoObservation, DataclassEchoObservation, State),
}

STEPS = {
    "coding_env": [
        ({"code": "x = 41"}, {"exit_code": 0}),
        ({"code": "print(x + 1)"}, {"exit_code": 0, "stdout": "42\n"}),
        ({"code": "1 / 0"}, {"exit_code": 1}),
    ],
    "echo_env": [
        ({"message": "hi"}, {"echoed_message": "hi", "message_length": 2}),
    ],
}


def main() -> None:
    base_url, env = sys.argv[1], sys.argv[2]
    pydantic_cls, dataclass_cls, state_cls = MODELS[env]
    http = requests.Session()
    checks = []

    def parse(what: str, payload: Dict[str, Any], expect: Dict[str, Any]) -> None:
        observation = payload["observation"]
        current = pydantic_cls(**observation)
        october = dataclass_cls(**observation)
        for name, value in expect.items():
            assert getattr(current, name) == value, f"{what}: {name} is {getattr(current, name)!r}, expected {value!r}"
            assert getattr(october, name) == value, f"{what}: {name} is {getattr(october, name)!r} (dataclass)"
        checks.append(what)

    reset = http.post(f"{base_url}/reset", json={})
    reset.raise_for_status()
    parse("reset", reset.json(), {})
    state = state_cls(**http.get(f"{base_url}/state").json())
    assert state.step_count == 0, f"state after reset: step_count {state.step_count}"
    checks.append("state after reset")
    for action, expect in STEPS[env]:
        answer = http.post(f"{base_url}/step", json={"action": action})
        answer.raise_for_status()
        parse(f"step {json.dumps(action)}", answer.json(), expect)
    state = state_cls(**http.get(f"{base_url}/state").json())
    assert state.step_count == len(STEPS[env]), f"state: step_count {state.step_count}"
    if env == "coding_env":
        assert state.last_exit_code == 1, f"state: last_exit_code {state.last_exit_code}"
    checks.append("state")
    print(json.dumps({"ok": True, "checks": checks}))


if __name__ == "__main__":
    main()
