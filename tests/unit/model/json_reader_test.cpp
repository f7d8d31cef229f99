// parse_json's limits on hostile text, and the JsonReader's checks and messages.
#include "model/json_reader.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace dr::model {
namespace {

using nlohmann::json;

std::string only_message(const Parsed<json>& parsed) {
  REQUIRE_FALSE(parsed);
  REQUIRE(parsed.error().size() == 1);
  CHECK(parsed.error()[0].pointer.empty());
  return parsed.error()[0].message;
}

TEST_CASE("parse_json refuses nesting deeper than the limit without recursing", "[unit][json]") {
  // 100,000 levels: the shape that overflowed the DR agent's stack (a recursive copy).
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  CHECK_THAT(only_message(parse_json(deep)),
             Catch::Contains("nested deeper than 64 levels at offset 64"));
  const std::string objects = R"({"a":)" + std::string(70, '{') + std::string(71, '}');
  CHECK_THAT(only_message(parse_json(objects)), Catch::Contains("nested deeper than 64"));
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  CHECK(parse_json(at_limit));
}

TEST_CASE("brackets inside strings do not count toward the depth", "[unit][json]") {
  const std::string text = R"({"a": ")" + std::string(500, '[') + R"(\"[[[", "b": [1]})";
  const auto parsed = parse_json(text);
  REQUIRE(parsed);
  CHECK((*parsed)["b"] == json::array({1}));
}

TEST_CASE("parse_json refuses a NUL byte and whatever follows it", "[unit][json]") {
  // nlohmann's lexer takes NUL for the end of input: without the check this text was accepted.
  const std::string text = std::string(R"({"type":"disaster"})") + '\0' + "garbage";
  CHECK_THAT(only_message(parse_json(text)), Catch::Contains("NUL byte at offset 19"));
}

TEST_CASE("parse_json refuses trailing bytes, bad numbers and malformed text", "[unit][json]") {
  CHECK_THAT(only_message(parse_json(R"({"a":1} {"b":2})")), Catch::Contains("malformed JSON"));
  CHECK_THAT(only_message(parse_json(R"({"n": 1e400})")), Catch::Contains("1e400"));
  CHECK_THAT(only_message(parse_json(R"({"a":)")), Catch::Contains("line 1"));
  CHECK_THAT(only_message(parse_json("")), Catch::Contains("malformed JSON"));
}

TEST_CASE("JsonReader names the type it found and keeps reading", "[unit][json]") {
  JsonReader r;
  const json doc = {{"type", 1}, {"force", "yes"}, {"n", 2.0}, {"list", {{"a", 1}}}, {"extra", 0}};
  CHECK(r.object(doc, "", {"type", "force", "n", "list", "name"}));
  CHECK_FALSE(r.opt_string(doc, "", "type"));
  CHECK_FALSE(r.opt_boolean(doc, "", "force"));
  CHECK(r.opt_integer(doc, "", "n", 0, 10) == 2);
  CHECK(r.array_member(doc, "", "list") == nullptr);
  CHECK(r.string(doc, "", "name").empty());
  REQUIRE(r.problems.size() == 5);
  CHECK(r.problems[0] == Problem{"/extra", "unknown key 'extra'"});
  CHECK(r.problems[1] == Problem{"/type", "expected a string, found an integer"});
  CHECK(r.problems[2] == Problem{"/force", "expected a boolean, found a string"});
  CHECK(r.problems[3] == Problem{"/list", "expected an array, found an object"});
  CHECK(r.problems[4] == Problem{"", "missing required field 'name'"});
}

TEST_CASE("JsonReader's object_document needs an object", "[unit][json]") {
  JsonReader r;
  CHECK_FALSE(r.object_document("[1]"));
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0] == Problem{"", "expected an object, found an array"});
}

}  // namespace
}  // namespace dr::model
