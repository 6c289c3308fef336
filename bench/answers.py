"""Answer and summary figures for one or more engines, side by side; prints one JSON table.

    python -m bench.answers --questions-home HOME_3K --topics-home HOME_SAMPLE \\
        [--questions Q.jsonl] [--topics T.jsonl] [--engine extractive] [--engine local:/path/model.gguf]

Each engine runs `paperbot eval --json` as a subprocess (so this measures what a user gets,
whatever the installed paperbot implements): `extractive` with PAPERBOT_LLM=extractive;
`local:PATH` with PAPERBOT_LLM=local and PAPERBOT_LLM_MODEL_PATH=PATH; `openai` with the
caller's PAPERBOT_LLM_* environment. Questions run on --questions-home (e.g. the shared
corpora library), topics on --topics-home (the sample library, where the topics' relevant
lists are complete).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
QUESTION_FIGURES = ("recall@10", "multi_paper_recall@10", "mrr")
ANSWER_FIGURES = (
    "cites_relevant",
    "citation_precision",
    "multi_paper_coverage",
    "unsupported_sentences",
    "uncited_sentences",
    "invented_citations",
    "refused_answerable",
    "refusal_accuracy",
    "latency_median_ms",
    "engines",
)
TOPIC_FIGURES = ("inclusion_precision", "inclusion_recall", "themes_per_summary", "max_themes", "latency_median_ms")


def engine_env(engine: str) -> dict[str, str]:
    env = dict(os.environ)
    if engine == "extractive":
        env["PAPERBOT_LLM"] = "extractive"
    elif engine.startswith("local:"):
        env["PAPERBOT_LLM"] = "local"
        env["PAPERBOT_LLM_MODEL_PATH"] = engine.split(":", 1)[1]
    elif engine != "openai":
        raise SystemExit(f"unknown engine {engine!r}: extractive, local:/path/model.gguf or openai")
    return env


def run_eval(file: Path, home: Path, env: dict[str, str]) -> dict[str, object]:
    command = [str(Path(sys.executable).parent / "paperbot"), "eval", str(file), "--json"]
    done = subprocess.run(command, env=env | {"PAPERBOT_HOME": str(home)}, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    data: dict[str, object] = json.loads(done.stdout)
    return data


def row(engine: str, args: argparse.Namespace) -> dict[str, object]:
    env = engine_env(engine)
    questions = run_eval(args.questions, args.questions_home, env)
    topics = run_eval(args.topics, args.topics_home, env)
    answers = questions.get("answers")
    answers = answers if isinstance(answers, dict) else {}
    figures: dict[str, object] = {"engine": engine}
    figures |= {f: questions.get(f) for f in QUESTION_FIGURES}
    figures |= {f"answers.{f}": answers.get(f) for f in ANSWER_FIGURES}
    figures |= {f"topics.{f}": topics.get(f) for f in TOPIC_FIGURES}
    errors = {k: v["error"] for k, v in (("questions", questions), ("topics", topics)) if "error" in v}
    return figures | ({"errors": errors} if errors else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=EVAL / "dev_questions.jsonl")
    parser.add_argument("--topics", type=Path, default=EVAL / "dev_topics.jsonl")
    parser.add_argument("--questions-home", type=Path, required=True)
    parser.add_argument("--topics-home", type=Path, required=True)
    parser.add_argument("--engine", action="append", help="extractive, local:/path/model.gguf or openai")
    args = parser.parse_args()
    rows = [row(engine, args) for engine in args.engine or ["extractive"]]
    print(json.dumps({"questions": str(args.questions), "topics": str(args.topics), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
