#pragma once
// Strict JSON reading and canonical writing of the drpair/v1 documents.
//
// Reading never throws: it returns the value, or every problem found, each with a JSON Pointer
// ("/vms/3/nics/0/ip: not an IPv4 address: '10.0.0.300'"). It rejects a wrong apiVersion or kind,
// wrong types, missing required fields, malformed MACs, CIDRs and addresses; malformed JSON is one
// problem at the pointer "" whose message gives line and column. Unknown fields are accepted in
// the wire documents (drpair/v1 may gain fields) and rejected in a MappingPolicy (an operator's
// typo must not be silently ignored).
//
// Writing is canonical: keys sorted, optional fields omitted when absent, two-space indent,
// so equal values give byte-identical text (generation is deterministic end to end).

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "model/problem.hpp"

namespace dr::model {

Parsed<FirstDescription> parse_first_description(std::string_view text);
Parsed<SecondDescription> parse_second_description(std::string_view text);
Parsed<MappingPolicy> parse_mapping_policy(std::string_view text);
Parsed<Inventory> parse_inventory(std::string_view text);

// The same from an already parsed JSON value (the agents receive documents inside requests).
Parsed<FirstDescription> read_first_description(const nlohmann::json& doc);
Parsed<SecondDescription> read_second_description(const nlohmann::json& doc);
Parsed<MappingPolicy> read_mapping_policy(const nlohmann::json& doc);
Parsed<Inventory> read_inventory(const nlohmann::json& doc);

nlohmann::json to_json(const FirstDescription& doc);
nlohmann::json to_json(const SecondDescription& doc);
nlohmann::json to_json(const MappingPolicy& doc);
nlohmann::json to_json(const Inventory& doc);

// to_json(doc) as canonical text, ending in a newline.
std::string to_text(const nlohmann::json& doc);

// The kind of a document ("FirstDescription", ...) if it is a drpair/v1 object with a string
// kind, for commands that accept several kinds.
std::string document_kind(const nlohmann::json& doc);

const char* to_string(ReplicationMode mode) noexcept;
const char* to_string(IpPolicy policy) noexcept;

}  // namespace dr::model
