// Which I/O thread a new connection joins: the lane on the CPU its packets arrive on, within a
// bound that keeps the lanes from drifting far apart, and the least loaded lane otherwise.

#include "server/http/io_lanes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace mls::server {
namespace {

namespace net = boost::asio;

TEST(IoLanes, UnknownCpuTakesTurnsAndStaysBalanced) {
  IoLanes lanes(3);
  std::vector<LaneSeat> seats;
  std::vector<std::size_t> placed;
  for (int i = 0; i < 7; ++i) {
    const std::size_t lane = lanes.place(-1);
    placed.push_back(lane);
    seats.push_back(lanes.seat(lane));
  }
  EXPECT_EQ(placed, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(lanes.connections(0), 3u);
  EXPECT_EQ(lanes.connections(1), 2u);
  EXPECT_EQ(lanes.connections(2), 2u);
}

TEST(IoLanes, ClosedConnectionsFreeTheirSeats) {
  IoLanes lanes(2);
  {
    LaneSeat a = lanes.seat(1);
    LaneSeat moved = std::move(a);
    EXPECT_EQ(lanes.connections(1), 1u);
  }
  EXPECT_EQ(lanes.connections(1), 0u);
  // With lane 1 free again, the least loaded lanes are both: turns start at lane 0.
  EXPECT_EQ(lanes.place(-1), 0u);
}

TEST(IoLanes, ACpuWithNoLaneGoesToTheLeastLoaded) {
  IoLanes lanes(2);  // neither lane has run: neither has a CPU
  LaneSeat held = lanes.seat(0);
  EXPECT_EQ(lanes.place(0), 1u);
  EXPECT_EQ(lanes.place(12345), 1u);
}

TEST(IoLanes, ConnectionsJoinTheirCpusLaneUpToTheBound) {
  IoLanes lanes(2);
  auto guard = net::make_work_guard(lanes.context(1));
  std::thread io([&] { lanes.run(1); });
  for (int i = 0; i < 2000 && lanes.cpu(1) < 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const int cpu = lanes.cpu(1);
  ASSERT_GE(cpu, 0) << "lane 1's thread never recorded its CPU";
  ASSERT_EQ(lanes.cpu(0), -1);

  std::vector<LaneSeat> seats;
  auto place = [&](int incoming) {
    const std::size_t lane = lanes.place(incoming);
    seats.push_back(lanes.seat(lane));
    return lane;
  };
  // A burst from one client thread lands together on its CPU's lane...
  for (std::size_t i = 0; i < IoLanes::kPlacementSlack; ++i)
    EXPECT_EQ(place(cpu), 1u) << "connection " << i;
  // ...until that lane holds twice the least loaded lane's count plus the slack.
  EXPECT_EQ(place(cpu), 0u);
  EXPECT_EQ(place(cpu), 1u);  // 8 < 2 * 1 + 8
  EXPECT_EQ(place(cpu), 1u);  // 9 < 10
  EXPECT_EQ(place(cpu), 0u);  // 10 is not under 10
  EXPECT_EQ(lanes.connections(0), 2u);
  EXPECT_EQ(lanes.connections(1), 10u);

  guard.reset();
  io.join();
  EXPECT_EQ(lanes.cpu(1), cpu) << "the lane keeps its last CPU after its thread ends";
}

TEST(IoLanes, OneLaneTakesEverything) {
  IoLanes lanes(1);
  for (int cpu : {-1, 0, 1, 7})
    EXPECT_EQ(lanes.place(cpu), 0u);
}

// Over loopback the kernel processes a connection's incoming packets on the sender's CPU.
TEST(IoLanes, IncomingCpuOfALoopbackConnectionIsAnOnlineCpu) {
  net::io_context io;
  net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
  net::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  net::ip::tcp::socket server = acceptor.accept();
  net::write(client, net::buffer("x", 1));
  char byte = 0;
  ASSERT_EQ(server.receive(net::buffer(&byte, 1)), 1u);
  const int cpu = incoming_cpu(server.native_handle());
  EXPECT_GE(cpu, 0);
  EXPECT_LT(cpu, static_cast<int>(sysconf(_SC_NPROCESSORS_CONF)));
  EXPECT_EQ(incoming_cpu(-1), -1);
}

}  // namespace
}  // namespace mls::server
