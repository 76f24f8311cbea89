#pragma once
// Foreign-key table-table joins (ksqlDB 0.22+): `FROM a [LEFT] JOIN b ON
// a.fk = b.id`, where `a.fk` is any expression of a's columns (not a's
// key) and `b.id` b's primary key. The result is keyed by a's key: one row
// per row of a, joined with b's row for its current fk.
//
// The tables need not be co-partitioned (a's rows live in the partition of
// a's key, b's in that of b's key), so the join runs as Kafka Streams runs
// it, in three steps through two repartition topics:
//   1. a's change (a's partition): the key's previous fk is kept in a
//      task store (`<query>-fk-prev`); a change of fk unsubscribes the old
//      one; a row with a fk subscribes it (topic
//      `<application.id>-<query>-fk-subscribe-repartition`, keyed by fk in
//      b's key format, so it meets b's row). A deleted row of a, or one
//      with a NULL fk, is answered at once: a tombstone, or (LEFT) the row
//      with b's columns NULL.
//   2. b's partition: the subscriptions per fk (`<query>-fk-subscriptions`,
//      kept per [fk, a's key] and indexed per fk: O(1) per subscription
//      whatever the fk's fan-out) answer each subscription and every
//      change of b's row with b's current row, to each a key subscribed,
//      in the order they subscribed (topic
//      `<application.id>-<query>-fk-response-repartition`, keyed by a's key
//      in a's key format).
//   3. a's partition: a response is joined with a's current row, unless a's
//      row is gone or now has another fk (a stale response: dropped); a
//      missing b row gives a tombstone (INNER) or b's columns NULL (LEFT).
// INNER and LEFT only (RIGHT / FULL OUTER are rejected with ksqlDB's
// message, in plan_table_join).
//
// In a multi-way join (`a JOIN b ON a.fk = b.id JOIN c ON b.cid = c.id`)
// `a` is the result of the steps before (the task's table
// `<query>-join-stateN`, keyed by the first table's key), the fk any
// expression of the columns joined so far, and step N's stores and topics
// carry N after their name (`fk-prevN`, `fk-subscribeN`, ...; the first
// step's have none).
#include <memory>
#include <string>
#include <vector>

#include "sql/plan_table_join.hpp"
#include "sql/row_layout.hpp"

namespace rivulet::sql {

// One input of a table-join step: a source table, or the result of the
// steps before it (materialized as a KTable keyed by the chain's key, the
// first table's).
struct JoinInput {
  std::string store;         // the KTable to look rows up in
  Topology::NodeId changes;  // emits each change after the KTable is updated
  bool joined = false;       // values are joined rows (Arrays), not decoded values
  std::vector<std::shared_ptr<RowLayout>> layouts;  // the sources it is made of
  // Per layout: whether its key is the chain's key (it was joined on it),
  // so that an absent row's key column holds the key; the key column of a
  // table joined by a foreign key is NULL then.
  std::vector<bool> keyed;
  size_t width = 0;

  // Appends the input's columns to `row`; `value` null: absent (its value
  // columns NULL).
  void append(const Value& key, const Value* value, Array& row) const {
    if (value && !value->is_null()) {
      if (!joined) {
        layouts[0]->append(key, value, row);
        return;
      }
      const Array& a = value->as_array();
      row.insert(row.end(), a.begin(), a.end());
      return;
    }
    for (size_t i = 0; i < layouts.size(); ++i)
      layouts[i]->append(keyed[i] ? key : Value(), nullptr, row);
  }
};

// Step `step` of a table join: `left` joined with the table `right` on `fk`
// (an expression of left's columns, in the query's scope) = right's key,
// INNER or LEFT. `first` is the chain's first table (its key format keys
// the responses), `right_source` the table `right` reads.
Expected<Topology::NodeId> fk_join_step(const TableJoinContext& c, size_t step,
                                        const JoinInput& left, const JoinInput& right,
                                        const SourceInfo& first, const SourceInfo& right_source,
                                        const ExprPtr& fk, JoinType type);

}  // namespace rivulet::sql
