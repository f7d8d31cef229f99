#pragma once
// The order in which generate() and validate() report problems: document order, so that equal
// inputs give equal reports and a reader meets problems in the order of the document.
// Internal to dr_mapping.

#include "model/problem.hpp"

namespace dr::mapping {

// Sorts by pointer: array indices compare as numbers ("/vms/2" before "/vms/10"), member names in
// the order the drpair/v1 documents list them ("app", "networks", "vms", "replication"), a pointer
// before the pointers below it. Problems at the same pointer keep the order they were found in.
void sort_in_document_order(model::Problems& problems);

}  // namespace dr::mapping
