#pragma once
// A pull query's table scan as one task answers it (actors/messages.hpp,
// lookup_atom with an empty key): every row of one of the task's KTables,
// as of one moment, encoded for the control plane.
#include <cstddef>
#include <string>

#include "operators/ktable.hpp"
#include "runtime/error.hpp"

namespace rivulet::actors {

// The rows of `table` as one msgpack array of [key, value] arrays
// (codecs::msgpack decodes it as an Array of two-element Arrays), read
// under the table's shared lock. Past `max_bytes` of encoded rows: an error
// naming `what` (the table and task) and the bound, instead of the rows.
Expected<std::string> encode_table_rows(const KTable& table, size_t max_bytes,
                                        const std::string& what);

}  // namespace rivulet::actors
