def test_it_stores_and_routes_a_low_confidence_prediction(service_client, loan_model):
    response = service_client.post(
        "/api/v1/models/loan-default/predictions",
        {
            "external_id": "a1",
            "inputs": {"applicant_age": 40, "income": 1000, "employment": "employed"},
            "output": "approve",
            "confidence": 0.41,
            "value_amount": "25000",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "in_review"
    assert body["routing"]["reasons"] == [
        {"rule": "high_value", "value_amount": "25000.00", "threshold": "10000.00"},
        {"rule": "low_confidence", "confidence": 0.41, "threshold": 0.6},
    ]
