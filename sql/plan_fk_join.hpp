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
//   2. b's partition: the subscriptions per fk (`<query>-fk-subscriptions`)
//      answer each subscription and every change of b's row with b's
//      current row, to each a key subscribed (topic
//      `<application.id>-<query>-fk-response-repartition`, keyed by a's key
//      in a's key format).
//   3. a's partition: a response is joined with a's current row, unless a's
//      row is gone or now has another fk (a stale response: dropped); a
//      missing b row gives a tombstone (INNER) or b's columns NULL (LEFT).
// INNER and LEFT only (RIGHT / FULL OUTER are rejected with ksqlDB's
// message); not in multi-way joins.
#include "sql/plan_table_join.hpp"

namespace rivulet::sql {

Expected<Topology::NodeId> plan_fk_join(const TableJoinContext& c);

}  // namespace rivulet::sql
