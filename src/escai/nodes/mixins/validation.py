"""Strict validation of outputs (inputs are validated at ``run``) and the determinism check of Compute nodes."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from escai.nodes.errors import NodeValidationError, PurityError
from escai.nodes.kinds import NodeKind
from escai.nodes.mixins.layer import NodeHandle, Proceed

__all__ = ["ValidationLayer", "validate_output_strictly"]


def validate_output_strictly(node_name: str, output_type: type[BaseModel], output: object) -> BaseModel:
    """Return ``output`` re-validated strictly against ``output_type``; raise :class:`NodeValidationError` if not."""
    if not isinstance(output, output_type):
        raise NodeValidationError(
            f"{node_name} returned {type(output).__name__}, expected an instance of {output_type.__name__}"
        )
    try:
        # Re-validating the dump catches values set with model_construct or by assignment without validation.
        return output_type.model_validate(output.model_dump(warnings=False), strict=True)
    except ValidationError as error:
        raise NodeValidationError(f"{node_name} returned an invalid {output_type.__name__}: {error}") from error


class ValidationLayer:
    """Check every output strictly; for Compute nodes also run ``execute`` again and require an equal output."""

    name = "validation"

    def __init__(self, node: NodeHandle) -> None:
        """Read whether to check determinism."""
        self._node = node
        self._check_determinism = node.settings.validation.check_determinism and node.node_kind is NodeKind.COMPUTE

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Validate the output of ``proceed``; compare it with a second, unwrapped run for Compute nodes."""
        output = validate_output_strictly(self._node.node_name, self._node.output_type, await proceed(data))
        if self._check_determinism:
            again = await self._node.execute_once(data)
            if again.model_dump(mode="json") != output.model_dump(mode="json"):
                raise PurityError(
                    self._node.node_name,
                    ["two runs on the same input returned different outputs (the computation is not deterministic)"],
                )
        return output
