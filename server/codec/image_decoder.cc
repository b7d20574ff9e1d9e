#include "server/codec/image_decoder.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "models/image/image_decode.h"
#include "models/image/npy.h"
#include "models/image/preprocess.h"
#include "server/codec/media_type.h"

namespace mls::server {
namespace {

using nlohmann::json;

Matrix make_rows(std::size_t count, const ImageInputSpec& spec) {
  Matrix m;
  m.rows = count;
  m.cols = spec.size * spec.size;
  m.values.resize(m.rows * m.cols);
  return m;
}

Error in_image(std::size_t index, std::size_t count, const Error& e) {
  if (count == 1) return e;
  return make_error(e.code, "image " + std::to_string(index) + ": " + e.message);
}

Result<Matrix> decode_encoded(std::string_view body, const ImageInputSpec& spec,
                              const ImageDecodeOptions& options) {
  if (body.empty()) return make_error(ErrorCode::kInvalidArgument, "empty body: expected an image");
  if (sniff_image_format(body) == ImageFormat::kUnknown) {
    return make_error(ErrorCode::kInvalidArgument,
                      "body is not a PNG or JPEG image (unrecognised first bytes)");
  }
  auto image = decode_image(body, ImageLimits{options.max_pixels});
  if (!image) return image.error();
  Matrix rows = make_rows(1, spec);
  if (auto s = preprocess_image(image->view(), spec, {rows.values.data(), rows.cols}); !s)
    return s.error();
  return rows;
}

Result<Matrix> decode_npy(std::string_view body, const ImageInputSpec& spec,
                          const ImageDecodeOptions& options) {
  if (body.empty())
    return make_error(ErrorCode::kInvalidArgument, "empty body: expected a .npy array");
  auto array = parse_npy(body, NpyLimits{body.size(), 8});
  if (!array) return make_error(ErrorCode::kInvalidArgument, ".npy: " + array.error().message);
  auto batch = npy_to_images(*array, ImageLimits{options.max_pixels});
  if (!batch) return make_error(ErrorCode::kInvalidArgument, ".npy: " + batch.error().message);
  if (batch->count > options.max_images) {
    return make_error(ErrorCode::kResourceExhausted, std::to_string(batch->count) +
                                                         " images in one request; the limit is " +
                                                         std::to_string(options.max_images));
  }
  Matrix rows = make_rows(batch->count, spec);
  for (std::size_t i = 0; i < batch->count; ++i) {
    if (auto s = preprocess_image(batch->image(i), spec, {rows.row(i), rows.cols}); !s)
      return in_image(i, batch->count, s.error());
  }
  return rows;
}

// One H x W array of JSON numbers. All integers: 0..255 pixel values, as uint8 arrays serialise;
// any fraction: 0..1 floats, as float arrays do (the same convention as .npy dtypes).
Result<GrayImage> json_image(const json& image, const ImageDecodeOptions& options,
                             std::vector<float>& floats, bool& is_float) {
  if (!image.is_array() || image.empty() || !image.front().is_array() || image.front().empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "expected an H x W array of pixel rows (a list of lists of numbers)");
  }
  GrayImage out;
  out.height = image.size();
  out.width = image.front().size();
  if (auto budget = check_pixel_budget(out.width, out.height, ImageLimits{options.max_pixels});
      !budget)
    return budget.error();
  is_float = false;
  for (const json& row : image) {
    for (const json& v : row) {
      if (v.is_number_float()) is_float = true;
    }
  }
  out.pixels.reserve(is_float ? 0 : out.width * out.height);
  floats.clear();
  for (std::size_t y = 0; y < out.height; ++y) {
    const json& row = image[y];
    if (!row.is_array() || row.size() != out.width) {
      return make_error(ErrorCode::kInvalidArgument,
                        "row " + std::to_string(y) + " does not have " + std::to_string(out.width) +
                            " pixels like row 0");
    }
    for (std::size_t x = 0; x < out.width; ++x) {
      const json& v = row[x];
      auto where = [&] {
        return "pixel at row " + std::to_string(y) + ", column " + std::to_string(x);
      };
      if (!v.is_number())
        return make_error(ErrorCode::kInvalidArgument, where() + " is not a number");
      const double d = v.get<double>();
      if (is_float) {
        if (!(d >= 0.0 && d <= 1.0)) {
          return make_error(ErrorCode::kInvalidArgument,
                            where() + " is " + v.dump() +
                                ": fractional pixels must lie in [0, 1] (or send integers 0..255)");
        }
        floats.push_back(static_cast<float>(d));
      } else {
        if (!(d >= 0.0 && d <= 255.0)) {
          return make_error(ErrorCode::kInvalidArgument,
                            where() + " is " + v.dump() + ": integer pixels must lie in 0..255");
        }
        out.pixels.push_back(static_cast<std::uint8_t>(d));
      }
    }
  }
  return out;
}

// The deepest nesting of arrays and objects outside strings. The document parser builds the whole
// tree, so a body of a million '[' must be refused before it is parsed, not after.
std::size_t json_depth(std::string_view body, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<Matrix> decode_json(std::string_view body, const ImageInputSpec& spec,
                           const ImageDecodeOptions& options) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument,
                      "empty body: expected {\"instances\": [H x W pixel arrays]}");
  }
  if (json_depth(body, options.max_json_depth) > options.max_json_depth) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "JSON nested deeper than " + std::to_string(options.max_json_depth) + " levels");
  }
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error(ErrorCode::kInvalidArgument, "body is not valid JSON");
  const json* images = &doc;
  if (doc.is_object()) {
    if (!doc.contains("instances")) {
      return make_error(ErrorCode::kInvalidArgument,
                        "expected {\"instances\": [H x W pixel arrays]}");
    }
    images = &doc["instances"];
  }
  // A bare H x W array is one image; a list of them, or "instances", is a batch.
  std::vector<const json*> list;
  if (images->is_array() && !images->empty() && images->front().is_array() &&
      !images->front().empty() && images->front().front().is_number()) {
    list.push_back(images);
  } else if (images->is_array()) {
    for (const json& image : *images)
      list.push_back(&image);
  }
  if (list.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no images: expected {\"instances\": [H x W pixel arrays]}");
  }
  if (list.size() > options.max_images) {
    return make_error(ErrorCode::kResourceExhausted, std::to_string(list.size()) +
                                                         " images in one request; the limit is " +
                                                         std::to_string(options.max_images));
  }
  Matrix rows = make_rows(list.size(), spec);
  std::vector<float> floats;
  for (std::size_t i = 0; i < list.size(); ++i) {
    bool is_float = false;
    auto image = json_image(*list[i], options, floats, is_float);
    if (!image) return in_image(i, list.size(), image.error());
    const GrayView view =
        is_float ? GrayView{nullptr, floats.data(), image->width, image->height} : image->view();
    if (auto s = preprocess_image(view, spec, {rows.row(i), rows.cols}); !s)
      return in_image(i, list.size(), s.error());
  }
  return rows;
}

}  // namespace

std::optional<ImageInputFormat> image_input_format(std::string_view content_type) {
  const std::string type = media_essence(content_type);
  if (type == "image/png" || type == "image/jpeg" || type == "image/jpg" ||
      type == "application/x-image" || type == "image/*") {
    return ImageInputFormat::kEncoded;
  }
  if (type == "application/x-npy" || type == "application/npy") return ImageInputFormat::kNpy;
  return std::nullopt;
}

std::optional<ImageInputFormat> image_format_of_body(std::string_view body) {
  if (sniff_image_format(body) != ImageFormat::kUnknown) return ImageInputFormat::kEncoded;
  if (body.starts_with(std::string_view("\x93NUMPY", 6))) return ImageInputFormat::kNpy;
  return std::nullopt;
}

Result<Matrix> decode_images(ImageInputFormat format, std::string_view body,
                             const ImageInputSpec& spec, const ImageDecodeOptions& options) {
  switch (format) {
    case ImageInputFormat::kEncoded:
      return decode_encoded(body, spec, options);
    case ImageInputFormat::kNpy:
      return decode_npy(body, spec, options);
    case ImageInputFormat::kJson:
      return decode_json(body, spec, options);
  }
  return make_error(ErrorCode::kInternal, "unknown image format");
}

}  // namespace mls::server
