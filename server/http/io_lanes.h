#pragma once
// The I/O threads' io_contexts, and which one a new connection joins.
//
// A connection stays on one I/O thread from accept to close, and which one matters on a busy
// machine: when the thread that answers a client runs on the CPU the client's packets come from,
// the answer wakes the client on that CPU instead of through a cross-CPU wake-up (an
// inter-processor interrupt, dear in a VM), and the scheduler can keep each client/thread pair on
// one CPU. The kernel says which CPU a connection's packets were processed on (SO_INCOMING_CPU:
// the sending client's CPU over loopback, the receive queue's CPU behind a NIC); each lane records
// the CPU its thread last started a request on. A new connection joins the lane on its CPU while
// that lane holds fewer than twice the connections of the least loaded one plus kPlacementSlack,
// and the least loaded lane otherwise (the next in turn among equals). The slack lets a client
// thread open all its connections in one burst onto its CPU's lane (wrk, a load balancer's pool)
// instead of being split across threads, which would undo the pairing; the bound keeps a machine
// whose packets all arrive on one CPU (one receive queue) from loading one thread alone.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace mls::server {

class IoLanes;

// A connection's place on a lane: counted there until the seat is destroyed with its session.
class LaneSeat {
 public:
  LaneSeat() = default;
  LaneSeat(IoLanes* lanes, std::size_t lane) : lanes_(lanes), lane_(lane) {}
  LaneSeat(LaneSeat&& other) noexcept
      : lanes_(std::exchange(other.lanes_, nullptr)), lane_(other.lane_) {}
  LaneSeat& operator=(LaneSeat&&) = delete;
  ~LaneSeat();

 private:
  IoLanes* lanes_ = nullptr;
  std::size_t lane_ = 0;
};

class IoLanes {
 public:
  static constexpr std::size_t kPlacementSlack = 8;

  explicit IoLanes(unsigned count);

  std::size_t size() const { return lanes_.size(); }
  boost::asio::io_context& context(std::size_t lane) { return lanes_[lane]->context; }

  // Runs the lane's io_context on the calling thread until it stops.
  void run(std::size_t lane);

  // The lane for a new connection whose packets arrive on incoming_cpu (-1: not known). Called
  // from the accepting thread only.
  std::size_t place(int incoming_cpu);
  LaneSeat seat(std::size_t lane);
  // Connections seated on the lane now.
  std::size_t connections(std::size_t lane) const;
  // The CPU the lane's thread last recorded, or -1 before it first ran.
  int cpu(std::size_t lane) const { return lanes_[lane]->cpu.load(std::memory_order_relaxed); }

  // On an I/O thread: records the CPU it runs on now for place(). A no-op on other threads.
  static void note_cpu();

 private:
  friend class LaneSeat;
  struct alignas(64) Lane {
    boost::asio::io_context context{1};  // hint: one thread runs it
    std::atomic<int> cpu{-1};
    std::atomic<std::size_t> connections{0};
  };

  std::vector<std::unique_ptr<Lane>> lanes_;
  std::size_t next_ = 0;
};

// The CPU that last processed the socket's incoming packets, or -1.
int incoming_cpu(int native_socket);

}  // namespace mls::server
