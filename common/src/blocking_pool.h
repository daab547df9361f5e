// The threads a Server runs its synchronous handlers on, off its event loop: a handler may
// block (the router's calls to engines, a stream's writes waiting on a slow reader) without
// stalling the loop that reads every other connection. Elastic: a thread per task in flight up
// to a cap, kept a while when idle, so a burst does not pay a thread start per request and an
// idle server holds none. Tasks past the cap wait in order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

namespace hs::http {

class BlockingPool {
 public:
  explicit BlockingPool(size_t max_threads,
                        std::chrono::milliseconds keep_idle = std::chrono::seconds(10))
      : max_threads_(max_threads < 1 ? 1 : max_threads), keep_idle_(keep_idle) {}
  ~BlockingPool() { join(); }
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `task` on a pool thread (packaged_task: move-only callables, such as a coroutine's
  // completion handler, are welcome). After join() the task runs on the caller's thread, so
  // that whatever waits on it is never left hanging.
  void post(std::packaged_task<void()> task) {
    std::vector<std::thread> finished;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopped_) {
        lock.unlock();
        task();
        return;
      }
      queue_.push_back(std::move(task));
      finished.swap(finished_);
      // A thread per task waiting beyond the idle threads already told to wake: with one idle
      // thread and two tasks posted before it wakes, the second must not wait for the first
      // (a handler may block for a whole stream).
      if (queue_.size() > idle_ && threads_.size() < max_threads_) {
        threads_.emplace_back();
        auto self = std::prev(threads_.end());
        *self = std::thread([this, self] { work(self); });
      } else {
        cv_.notify_one();
      }
    }
    for (auto& t : finished) t.join();
  }

  // Runs what is queued, then joins every thread. Idempotent.
  void join() {
    std::list<std::thread> threads;
    std::vector<std::thread> finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      cv_.notify_all();
      threads.swap(threads_);
      finished.swap(finished_);
    }
    for (auto& t : threads)
      if (t.joinable()) t.join();
    for (auto& t : finished) t.join();
  }

  size_t threads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.size();
  }
  size_t idle() const {  // threads waiting for a task
    std::lock_guard<std::mutex> lock(mu_);
    return idle_;
  }

 private:
  void work(std::list<std::thread>::iterator self) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      bool woke = cv_.wait_for(lock, keep_idle_, [&] { return stopped_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) {
        if (stopped_) return;  // join() owns this thread now
        if (!woke) {           // idle too long: leave, to be joined by the next post()
          finished_.push_back(std::move(*self));
          threads_.erase(self);
          return;
        }
        continue;
      }
      auto task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  const size_t max_threads_;
  const std::chrono::milliseconds keep_idle_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> queue_;
  std::list<std::thread> threads_;     // running (idle or busy)
  std::vector<std::thread> finished_;  // left after an idle spell, not yet joined
  size_t idle_ = 0;
  bool stopped_ = false;
};

}  // namespace hs::http
