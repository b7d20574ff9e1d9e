#include "server/http/io_lanes.h"

#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>

namespace mls::server {

namespace {
thread_local std::atomic<int>* current_lane_cpu = nullptr;
}  // namespace

LaneSeat::~LaneSeat() {
  if (lanes_ != nullptr) lanes_->lanes_[lane_]->connections.fetch_sub(1, std::memory_order_relaxed);
}

IoLanes::IoLanes(unsigned count) {
  for (unsigned i = 0; i < std::max(1u, count); ++i) {
    lanes_.push_back(std::make_unique<Lane>());
    // Asio opens a context's epoll, eventfd and timerfd descriptors with its first I/O object.
    // Opening them now gives every lane its descriptors from the start, not when (or whether)
    // placement first sends it a connection.
    boost::asio::steady_timer opens_reactor(lanes_.back()->context);
  }
}

void IoLanes::run(std::size_t lane) {
  current_lane_cpu = &lanes_[lane]->cpu;
  note_cpu();
  lanes_[lane]->context.run();
  current_lane_cpu = nullptr;
}

void IoLanes::note_cpu() {
  if (current_lane_cpu == nullptr) return;
  const int cpu = sched_getcpu();  // glibc reads it from the rseq area: no system call
  // Written only when it changed, so the accepting thread's reads do not bounce the line.
  if (current_lane_cpu->load(std::memory_order_relaxed) != cpu)
    current_lane_cpu->store(cpu, std::memory_order_relaxed);
}

std::size_t IoLanes::place(int incoming_cpu) {
  std::size_t fewest = lanes_[0]->connections.load(std::memory_order_relaxed);
  for (const auto& lane : lanes_)
    fewest = std::min(fewest, lane->connections.load(std::memory_order_relaxed));
  if (incoming_cpu >= 0) {
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      if (lanes_[i]->cpu.load(std::memory_order_relaxed) != incoming_cpu) continue;
      if (lanes_[i]->connections.load(std::memory_order_relaxed) < 2 * fewest + kPlacementSlack)
        return i;
      break;
    }
  }
  // Not known, no lane there, or that lane is full: the least loaded, the next in turn among
  // equals.
  for (std::size_t k = 0; k < lanes_.size(); ++k) {
    const std::size_t i = (next_ + k) % lanes_.size();
    if (lanes_[i]->connections.load(std::memory_order_relaxed) == fewest) {
      next_ = (i + 1) % lanes_.size();
      return i;
    }
  }
  // Counts changed under us (connections closing on other threads): any lane will do.
  next_ = (next_ + 1) % lanes_.size();
  return next_;
}

LaneSeat IoLanes::seat(std::size_t lane) {
  lanes_[lane]->connections.fetch_add(1, std::memory_order_relaxed);
  return LaneSeat(this, lane);
}

std::size_t IoLanes::connections(std::size_t lane) const {
  return lanes_[lane]->connections.load(std::memory_order_relaxed);
}

int incoming_cpu(int native_socket) {
  int cpu = -1;
  socklen_t length = sizeof cpu;
  if (getsockopt(native_socket, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &length) != 0) return -1;
  return cpu;
}

}  // namespace mls::server
