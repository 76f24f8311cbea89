#include "checkpoint/async_writer.hpp"

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "runtime/thread_name.hpp"

namespace rivulet::checkpoint {

const WriteOutcome& WriteTicket::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire); });
  return outcome_;
}

WriteOutcome write_and_retain(CheckpointStore& store, const Snapshot& snapshot, size_t retain) {
  WriteOutcome outcome;
  const auto begin = std::chrono::steady_clock::now();
  outcome.written = store.write(snapshot);
  if (outcome.written) {
    if (auto retained = store.retain(snapshot.task, retain); !retained) {
      outcome.retain_error = retained.error();
    }
  }
  outcome.write_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - begin)
                                               .count());
  return outcome;
}

AsyncWriter::AsyncWriter() : thread_([this] { run(); }) {}

AsyncWriter::~AsyncWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

std::shared_ptr<WriteTicket> AsyncWriter::submit(Job job) {
  auto ticket = std::make_shared<WriteTicket>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++busy_[job.snapshot.task];
    queue_.push_back(Entry{std::move(job), ticket});
  }
  work_cv_.notify_one();
  return ticket;
}

void AsyncWriter::wait_idle(const TaskId& task) {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [&] { return busy_.find(task) == busy_.end(); });
}

size_t AsyncWriter::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = 0;
  for (const auto& [task, count] : busy_) n += count;
  return n;
}

void AsyncWriter::run() {
  set_thread_name("rivulet.ckpt");
  for (;;) {
    Entry entry;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything was written
      entry = std::move(queue_.front());
      queue_.pop_front();
    }
    Job& job = entry.job;
    WriteOutcome outcome;
    if (job.may_write && !job.may_write()) {
      outcome.written = Error::retriable("checkpoint " + std::to_string(job.snapshot.id.value()) +
                                         " of task " + job.snapshot.task.to_string() +
                                         " not written: the task may no longer write");
    } else {
      // The task's sections that were left to this thread are serialized
      // first; write_us counts them.
      const auto begin = std::chrono::steady_clock::now();
      std::optional<Error> failed;
      try {
        finish_sections(job.snapshot);
      } catch (const std::exception& e) {
        failed = Error::retriable("checkpoint " + std::to_string(job.snapshot.id.value()) +
                                  " of task " + job.snapshot.task.to_string() +
                                  " not serialized: " + e.what());
      }
      const auto serialize_us = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                begin)
              .count());
      if (failed) {
        outcome.written = *failed;
      } else {
        outcome = write_and_retain(*job.store, job.snapshot, job.retain);
      }
      outcome.write_us += serialize_us;
    }
    job.snapshot.deferred.clear();  // what the task's state held goes now
    job.snapshot.sections.clear();  // its bytes go now, not with the job
    {
      // The job stops counting as queued (queued(), wait_idle) as its ticket
      // becomes done, under both locks: either observer sees both.
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = busy_.find(job.snapshot.task);
      if (it != busy_.end() && --it->second == 0) busy_.erase(it);
      std::lock_guard<std::mutex> ticket_lock(entry.ticket->mutex_);
      entry.ticket->outcome_ = std::move(outcome);
      entry.ticket->done_.store(true, std::memory_order_release);
    }
    idle_cv_.notify_all();
    entry.ticket->cv_.notify_all();
    if (job.on_done) job.on_done();
  }
}

}  // namespace rivulet::checkpoint
