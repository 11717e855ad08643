// The errors of reading an image (lib/gray-image.ts), in a module of their own: the endpoint's server thread maps them to HTTP answers without loading sharp, which only its inference threads use.

export class ImageDecodeError extends Error {
  override name = "ImageDecodeError";
}

export class ImageSizeError extends Error {
  override name = "ImageSizeError";
}
