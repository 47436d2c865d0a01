"""``python -m audit.exports.verify_snapshot SNAPSHOT CHAINS_JSON``: verify_audit of the chains
in an exported PostgreSQL snapshot; prints the manifest's ``verify_audit`` object as JSON.

Started by ``audit.exports.build`` beside an export that holds the snapshot open.
"""

import json
import sys


def main() -> None:
    snapshot, chains = sys.argv[1], json.loads(sys.argv[2])
    import django

    django.setup()
    from django.db import connection, transaction

    from audit.exports.build import _verification_summary

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SET TRANSACTION SNAPSHOT %s", [snapshot])
        print(json.dumps(_verification_summary(chains)))


if __name__ == "__main__":
    main()
