#pragma once
// The CNN's random numbers: the project's SplitMix64 (models/core/random.h), whose float
// conversions are fully specified, so a seed gives the same weights and dropout masks everywhere.

#include "models/core/random.h"

namespace mls::cnn {

using ::mls::SplitMix64;

}  // namespace mls::cnn
