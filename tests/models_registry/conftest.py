import pytest


@pytest.fixture
def owner_client(client, owner):
    """alice, the loan model's owner, logged in as staff: the admin is where owners work."""
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    return client
