#include "actors/transaction_coordinator.hpp"

#include <thread>

#include "runtime/log.hpp"

namespace rivulet::actors {

bool ahead_of_committed(const std::map<TopicPartition, Offset>& checkpoint,
                        const std::map<TopicPartition, Offset>& committed) {
  for (const auto& [tp, offset] : checkpoint) {
    auto it = committed.find(tp);
    const int64_t done = it == committed.end() ? 0 : it->second.value();
    if (offset.value() > done) return true;
  }
  return false;
}

Expected<std::vector<CheckpointId>> drop_uncommitted_checkpoints(
    checkpoint::CheckpointStore& store, const checkpoint::TaskId& task,
    const std::map<TopicPartition, Offset>& committed) {
  std::vector<CheckpointId> dropped;
  auto ids = store.list(task);
  if (!ids) return ids.error();
  for (const auto& id : *ids) {  // newest first
    auto snapshot = store.read(task, id);
    if (!snapshot) {
      if (snapshot.error().kind != ErrorKind::Data) return snapshot.error();
      break;  // damaged: load_latest_chain skips it with a warning
    }
    if (!ahead_of_committed(snapshot->input_offsets, committed)) break;
    auto removed = store.remove(task, id);
    if (!removed) return removed.error();
    logger()->info(
        "task {}: dropped checkpoint {}: its transaction did not commit (its offsets are ahead "
        "of the group's committed offsets)",
        task.to_string(), id.value());
    dropped.push_back(id);
  }
  return dropped;
}

namespace {

using Clock = std::chrono::steady_clock;

// Repeats `call` while it fails retriably and time is left.
template <typename Call>
std::optional<connectors::TxnError> with_retries(const ExactlyOnce& x, Call call) {
  const auto deadline = Clock::now() + x.timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto err = call(std::max(left, std::chrono::milliseconds(100)));
    if (!err || err->kind != connectors::TxnFailure::Retriable || Clock::now() >= deadline) {
      return err;
    }
    logger()->warn("{}; retrying", err->message);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

BoundaryOutcome failed(const connectors::TxnError& err, bool written) {
  BoundaryOutcome out;
  out.kind = err.kind == connectors::TxnFailure::Fatal ? BoundaryOutcome::Fatal
                                                       : BoundaryOutcome::Rewind;
  out.error = err.to_string();
  if (out.error.find("FENCED") != std::string::npos) {
    out.error += " (a newer owner of the task initialized its transactional.id: this copy is "
                 "stale and stops; its open transaction is aborted)";
  }
  out.checkpoint_written = written;
  return out;
}

}  // namespace

BoundaryOutcome commit_boundary(ExactlyOnce& x, checkpoint::CheckpointStore& store,
                                const checkpoint::Snapshot& snapshot) {
  BoundaryOutcome out;
  auto written = store.write(snapshot);
  if (!written) {
    out.kind = BoundaryOutcome::Rewind;
    out.error = "checkpoint " + std::to_string(snapshot.id.value()) +
                " not written: " + written.error().to_string();
    return out;
  }
  out.checkpoint_written = true;
  out.bytes = *written;
  if (auto err = with_retries(x, [&](std::chrono::milliseconds t) {
        return x.producer->send_offsets(snapshot.input_offsets, x.group_id, t);
      })) {
    return failed(*err, true);
  }
  if (auto err = with_retries(x, [&](std::chrono::milliseconds t) { return x.producer->commit(t); })) {
    return failed(*err, true);
  }
  return out;
}

std::optional<std::string> abort_and_settle(ExactlyOnce& x) {
  auto err = with_retries(x, [&](std::chrono::milliseconds t) { return x.producer->abort(t); });
  if (err) return err->to_string();
  // abort purged what was not sent; the purged records' reports (errors)
  // and the sent ones' still reach the delivery thread: wait for all.
  auto settled = x.producer->producer().flush(x.timeout);
  if (!settled) return "after abort: " + settled.error().to_string();
  return std::nullopt;
}

}  // namespace rivulet::actors
