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
  const std::size_t n = lanes_.size();
  // The least loaded lane, the next in turn among equals.
  std::size_t least = next_;
  std::size_t fewest = connections(least);
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    if (const std::size_t count = connections(i); count < fewest) {
      fewest = count;
      least = i;
    }
  }
  if (incoming_cpu >= 0) {
    for (std::size_t i = 0; i < n; ++i) {
      if (lanes_[i]->cpu.load(std::memory_order_relaxed) != incoming_cpu) continue;
      if (connections(i) < 2 * fewest + kPlacementSlack) return i;
      break;
    }
  }
  next_ = (least + 1) % n;
  return least;
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
