"""The component's entry point: componentize-py generates `wit_world` from
wit/world.wit, and the host calls `Run.run` once per step."""

from wit_world import exports

import step


class Run(exports.Run):
    def run(self) -> None:
        step.main()
