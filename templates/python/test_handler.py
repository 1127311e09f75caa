# Run with: python3 -m unittest
import unittest
from types import SimpleNamespace

from handler import handle


def event(query=None, body=None):
    return SimpleNamespace(method="GET", path="/", query=query or {}, headers={}, body=body)


context = SimpleNamespace(call_id="test", function_name="test")


class HandleTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(handle(event(query={"name": "Ada"}), context), {"message": "Hello, Ada!"})

    def test_greets_the_name_in_a_json_body(self):
        self.assertEqual(handle(event(body={"name": "Grace"}), context), {"message": "Hello, Grace!"})

    def test_greets_the_world_by_default(self):
        self.assertEqual(handle(event(), context), {"message": "Hello, world!"})


if __name__ == "__main__":
    unittest.main()
