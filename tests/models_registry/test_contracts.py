"""Input contracts are JSON Schema draft 2020-12, refused when invalid, compiled once."""

import pytest
from django.core.exceptions import ValidationError

from models_registry import contracts
from tests.factories import LOAN_CONTRACT, LOAN_OUTPUT, ModelVersionFactory


def test_a_contract_that_is_not_a_valid_schema_is_refused_with_the_reason(loan_model):
    version = loan_model.versions.get()
    version.input_contract = {"type": "object", "properties": {"age": {"type": "integr"}}}
    with pytest.raises(ValidationError) as error:
        version.save()
    assert "input_contract" in error.value.message_dict
    assert "integr" in error.value.message_dict["input_contract"][0]


def test_an_output_spec_that_is_not_a_schema_is_refused(loan_model):
    version = loan_model.versions.get()
    version.output_spec = {"enum": "approve"}
    with pytest.raises(ValidationError) as error:
        version.full_clean()
    assert "output_spec" in error.value.message_dict


def test_the_compiled_contract_is_reused_until_the_version_changes(loan_model):
    version = loan_model.versions.get()
    assert version.validator is version.validator
    before = version.validator
    version.input_contract = {"type": "object"}
    version.save()
    assert version.validator is not before


def test_violations_name_the_field_and_the_problem():
    checker = contracts.CompiledContract(LOAN_CONTRACT, LOAN_OUTPUT)
    found = checker.violations(
        {"applicant_age": 12, "income": "lots", "email": "not-an-email", "postcode": "1"},
        "maybe",
    )
    by_path = {v.path: v.message for v in found}
    assert by_path["inputs.applicant_age"] == "12 is less than the minimum of 18"
    assert "is not of type 'number'" in by_path["inputs.income"]
    assert by_path["inputs.employment"] == "is required"
    assert "is not a 'email'" in by_path["inputs.email"]
    assert "is too short" in by_path["inputs.postcode"]
    assert "is not one of" in by_path["output"]


def test_a_valid_prediction_has_no_violations():
    checker = contracts.CompiledContract(LOAN_CONTRACT, LOAN_OUTPUT)
    inputs = {"applicant_age": 30, "income": 1.5, "employment": "employed"}
    assert checker.violations(inputs, "approve") == []


def test_a_version_registered_with_a_broken_contract_is_not_stored(loan_model):
    with pytest.raises(ValidationError):
        ModelVersionFactory(
            model=loan_model, label="v2", status="candidate", input_contract={"type": 12}
        )
    assert not loan_model.versions.filter(label="v2").exists()
