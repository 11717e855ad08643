;; Whole-frame passes in WebAssembly SIMD: the 2x2 binning of the working map (raster.ts binImage)
;; and the quality gate's hot-pixel candidate scan (quality/measures.ts candidatesOf8/16), the
;; same results as their JavaScript, 8 or 16 pixels per instruction. Assembled by
;; scripts/build-wasm.ts into frame-kernel.ts; loaded and fed by frame-passes.ts, which copies
;; a band of rows of the frame into this memory per call (so the memory stays under 2 MB).
;;
;; Why it is exact. Binning: JavaScript takes 0.25 * (a + b + c + d) in double and stores it as
;; float32; the sum is a whole number below 2^18, so every order of adding gives it, its float32
;; conversion is exact, and a quarter of it is exact in float32 and in double: the same bits.
;; The scan: JavaScript's test (c - l + reach) >>> 0 <= 2 reach, for whole numbers and reach >= 0,
;; is |c - l| <= reach; here |c - l| is max_u - min_u of the unsigned lanes, compared with reach
;; (0 <= reach below the lane's top, which the caller checks). Candidates come out row by row,
;; left to right, as the JavaScript pushes them.
(module
  (memory (export "memory") 1)

  ;; 8-bit binning: map row r (r < rows) from the image rows at src + 2 r stride and the one
  ;; after, `width` map pixels, written as float32 to dst + 4 (r width + x). stride in bytes.
  (func (export "bin2U8")
    (param $src i32) (param $stride i32) (param $dst i32) (param $width i32) (param $rows i32)
    (local $r i32) (local $p i32) (local $q i32) (local $o i32) (local $x i32) (local $vector i32)
    (local $s v128) (local $quarter v128)
    (local.set $quarter (f32x4.splat (f32.const 0.25)))
    ;; Columns in groups of eight (16 bytes of each row), the rest one by one.
    (local.set $vector (i32.and (local.get $width) (i32.const -8)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $p
          (i32.add (local.get $src) (i32.mul (i32.shl (local.get $r) (i32.const 1)) (local.get $stride))))
        (local.set $q (i32.add (local.get $p) (local.get $stride)))
        (local.set $o
          (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $r) (local.get $width)) (i32.const 2))))
        (local.set $x (i32.const 0))
        (block $vectorDone
          (loop $vectorLoop
            (br_if $vectorDone (i32.ge_u (local.get $x) (local.get $vector)))
            (local.set $s
              (i16x8.add
                (i16x8.extadd_pairwise_i8x16_u
                  (v128.load (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 1)))))
                (i16x8.extadd_pairwise_i8x16_u
                  (v128.load (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 1)))))))
            (v128.store
              (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2)))
              (f32x4.mul
                (f32x4.convert_i32x4_u (i32x4.extend_low_i16x8_u (local.get $s)))
                (local.get $quarter)))
            (v128.store offset=16
              (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2)))
              (f32x4.mul
                (f32x4.convert_i32x4_u (i32x4.extend_high_i16x8_u (local.get $s)))
                (local.get $quarter)))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (br $vectorLoop)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $x) (local.get $width)))
            (f32.store
              (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2)))
              (f32.mul
                (f32.convert_i32_u
                  (i32.add
                    (i32.add
                      (i32.load8_u (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 1))))
                      (i32.load8_u offset=1 (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 1)))))
                    (i32.add
                      (i32.load8_u (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 1))))
                      (i32.load8_u offset=1 (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 1)))))))
                (f32.const 0.25)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; 16-bit binning, as bin2U8 (stride in bytes; sums of four 16-bit pixels in 32-bit lanes).
  (func (export "bin2U16")
    (param $src i32) (param $stride i32) (param $dst i32) (param $width i32) (param $rows i32)
    (local $r i32) (local $p i32) (local $q i32) (local $o i32) (local $x i32) (local $vector i32)
    (local $quarter v128)
    (local.set $quarter (f32x4.splat (f32.const 0.25)))
    ;; Columns in groups of four (16 bytes of each row), the rest one by one.
    (local.set $vector (i32.and (local.get $width) (i32.const -4)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $p
          (i32.add (local.get $src) (i32.mul (i32.shl (local.get $r) (i32.const 1)) (local.get $stride))))
        (local.set $q (i32.add (local.get $p) (local.get $stride)))
        (local.set $o
          (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $r) (local.get $width)) (i32.const 2))))
        (local.set $x (i32.const 0))
        (block $vectorDone
          (loop $vectorLoop
            (br_if $vectorDone (i32.ge_u (local.get $x) (local.get $vector)))
            (v128.store
              (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2)))
              (f32x4.mul
                (f32x4.convert_i32x4_u
                  (i32x4.add
                    (i32x4.extadd_pairwise_i16x8_u
                      (v128.load (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 2)))))
                    (i32x4.extadd_pairwise_i16x8_u
                      (v128.load (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 2)))))))
                (local.get $quarter)))
            (local.set $x (i32.add (local.get $x) (i32.const 4)))
            (br $vectorLoop)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $x) (local.get $width)))
            (f32.store
              (i32.add (local.get $o) (i32.shl (local.get $x) (i32.const 2)))
              (f32.mul
                (f32.convert_i32_u
                  (i32.add
                    (i32.add
                      (i32.load16_u (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 2))))
                      (i32.load16_u offset=2 (i32.add (local.get $p) (i32.shl (local.get $x) (i32.const 2)))))
                    (i32.add
                      (i32.load16_u (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 2))))
                      (i32.load16_u offset=2 (i32.add (local.get $q) (i32.shl (local.get $x) (i32.const 2)))))))
                (f32.const 0.25)))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; 8-bit candidate scan: rows r < rows at src + r width (each with the row above it in memory
  ;; too), columns from <= x < to (from >= 1). A pixel is a candidate when it differs from its
  ;; left or its upper neighbour by more than reach (0 <= reach < 255). Writes r width + x of
  ;; each, as i32, to out; returns how many. Reads up to 15 bytes past a row's `to`.
  (func (export "scanU8")
    (param $src i32) (param $width i32) (param $from i32) (param $to i32) (param $rows i32)
    (param $reach i32) (param $out i32) (result i32)
    (local $r i32) (local $row i32) (local $x i32) (local $bits i32) (local $n i32) (local $at i32)
    (local $limit v128) (local $c v128) (local $left v128) (local $up v128)
    (local.set $limit (i8x16.splat (local.get $reach)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.mul (local.get $r) (local.get $width)))
        (local.set $x (local.get $from))
        (block $rowDone
          (loop $columns
            (br_if $rowDone (i32.ge_s (local.get $x) (local.get $to)))
            (local.set $at (i32.add (local.get $src) (i32.add (local.get $row) (local.get $x))))
            (local.set $c (v128.load (local.get $at)))
            (local.set $left (v128.load (i32.sub (local.get $at) (i32.const 1))))
            (local.set $up (v128.load (i32.sub (local.get $at) (local.get $width))))
            (local.set $bits
              (i8x16.bitmask
                (v128.or
                  (i8x16.gt_u
                    (i8x16.sub (i8x16.max_u (local.get $c) (local.get $left))
                      (i8x16.min_u (local.get $c) (local.get $left)))
                    (local.get $limit))
                  (i8x16.gt_u
                    (i8x16.sub (i8x16.max_u (local.get $c) (local.get $up))
                      (i8x16.min_u (local.get $c) (local.get $up)))
                    (local.get $limit)))))
            ;; Lanes at or past `to` are not scanned.
            (if (i32.lt_s (i32.sub (local.get $to) (local.get $x)) (i32.const 16))
              (then
                (local.set $bits
                  (i32.and (local.get $bits)
                    (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $to) (local.get $x)))
                      (i32.const 1))))))
            (block $bitsDone
              (loop $bitLoop
                (br_if $bitsDone (i32.eqz (local.get $bits)))
                (i32.store
                  (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                  (i32.add (i32.add (local.get $row) (local.get $x)) (i32.ctz (local.get $bits))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (local.set $bits
                  (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $bitLoop)))
            (local.set $x (i32.add (local.get $x) (i32.const 16)))
            (br $columns)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))
    (local.get $n))

  ;; 16-bit candidate scan, as scanU8 (src in bytes, width in pixels, 0 <= reach < 65535, eight
  ;; pixels per step; reads up to 14 bytes past a row's `to`).
  (func (export "scanU16")
    (param $src i32) (param $width i32) (param $from i32) (param $to i32) (param $rows i32)
    (param $reach i32) (param $out i32) (result i32)
    (local $r i32) (local $row i32) (local $x i32) (local $bits i32) (local $n i32) (local $at i32)
    (local $limit v128) (local $c v128) (local $left v128) (local $up v128)
    (local.set $limit (i16x8.splat (local.get $reach)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.mul (local.get $r) (local.get $width)))
        (local.set $x (local.get $from))
        (block $rowDone
          (loop $columns
            (br_if $rowDone (i32.ge_s (local.get $x) (local.get $to)))
            (local.set $at
              (i32.add (local.get $src)
                (i32.shl (i32.add (local.get $row) (local.get $x)) (i32.const 1))))
            (local.set $c (v128.load (local.get $at)))
            (local.set $left (v128.load (i32.sub (local.get $at) (i32.const 2))))
            (local.set $up
              (v128.load (i32.sub (local.get $at) (i32.shl (local.get $width) (i32.const 1)))))
            (local.set $bits
              (i16x8.bitmask
                (v128.or
                  (i16x8.gt_u
                    (i16x8.sub (i16x8.max_u (local.get $c) (local.get $left))
                      (i16x8.min_u (local.get $c) (local.get $left)))
                    (local.get $limit))
                  (i16x8.gt_u
                    (i16x8.sub (i16x8.max_u (local.get $c) (local.get $up))
                      (i16x8.min_u (local.get $c) (local.get $up)))
                    (local.get $limit)))))
            (if (i32.lt_s (i32.sub (local.get $to) (local.get $x)) (i32.const 8))
              (then
                (local.set $bits
                  (i32.and (local.get $bits)
                    (i32.sub (i32.shl (i32.const 1) (i32.sub (local.get $to) (local.get $x)))
                      (i32.const 1))))))
            (block $bitsDone
              (loop $bitLoop
                (br_if $bitsDone (i32.eqz (local.get $bits)))
                (i32.store
                  (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                  (i32.add (i32.add (local.get $row) (local.get $x)) (i32.ctz (local.get $bits))))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (local.set $bits
                  (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $bitLoop)))
            (local.set $x (i32.add (local.get $x) (i32.const 8)))
            (br $columns)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))
    (local.get $n))

;; Block sums of 8-bit pixels (lib/block-sums.ts blockSums, for the gate's overview where the
;; working map's blocks do not tile it): output row r (r < rows) sums image rows r factor ..
;; r factor + factor - 1 from src (stride in bytes) over width * factor columns, as whole numbers
;; (below 2^31 for factor <= 16), written as f64 to out + 8 (r width + x). Columns are summed
;; down the block's rows 16 at a time into acc (i32 per column), then across each block.
  (func (export "blockSumsU8")
    (param $src i32) (param $stride i32) (param $factor i32) (param $width i32) (param $rows i32)
    (param $acc i32) (param $out i32)
    (local $r i32) (local $dy i32) (local $row i32) (local $x i32) (local $cover i32)
    (local $vector i32) (local $at i32) (local $v v128) (local $half v128)
    (local.set $cover (i32.mul (local.get $width) (local.get $factor)))
    (local.set $vector (i32.and (local.get $cover) (i32.const -16)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (call $zero (local.get $acc) (i32.shl (local.get $cover) (i32.const 2)))
        (local.set $dy (i32.const 0))
        (block $downDone
          (loop $down
            (br_if $downDone (i32.ge_u (local.get $dy) (local.get $factor)))
            (local.set $row
              (i32.add (local.get $src)
                (i32.mul
                  (i32.add (i32.mul (local.get $r) (local.get $factor)) (local.get $dy))
                  (local.get $stride))))
            (local.set $x (i32.const 0))
            (block $vectorDone
              (loop $vectorLoop
                (br_if $vectorDone (i32.ge_u (local.get $x) (local.get $vector)))
                (local.set $v (v128.load (i32.add (local.get $row) (local.get $x))))
                (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $x) (i32.const 2))))
                (local.set $half (i16x8.extend_low_i8x16_u (local.get $v)))
                (v128.store (local.get $at)
                  (i32x4.add (v128.load (local.get $at)) (i32x4.extend_low_i16x8_u (local.get $half))))
                (v128.store offset=16 (local.get $at)
                  (i32x4.add (v128.load offset=16 (local.get $at))
                    (i32x4.extend_high_i16x8_u (local.get $half))))
                (local.set $half (i16x8.extend_high_i8x16_u (local.get $v)))
                (v128.store offset=32 (local.get $at)
                  (i32x4.add (v128.load offset=32 (local.get $at))
                    (i32x4.extend_low_i16x8_u (local.get $half))))
                (v128.store offset=48 (local.get $at)
                  (i32x4.add (v128.load offset=48 (local.get $at))
                    (i32x4.extend_high_i16x8_u (local.get $half))))
                (local.set $x (i32.add (local.get $x) (i32.const 16)))
                (br $vectorLoop)))
            (block $tailDone
              (loop $tail
                (br_if $tailDone (i32.ge_u (local.get $x) (local.get $cover)))
                (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $x) (i32.const 2))))
                (i32.store (local.get $at)
                  (i32.add (i32.load (local.get $at))
                    (i32.load8_u (i32.add (local.get $row) (local.get $x)))))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $tail)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 1)))
            (br $down)))
        (call $acrossBlocks (local.get $acc) (local.get $factor) (local.get $width)
          (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r) (local.get $width)) (i32.const 3))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

  ;; Block sums of 16-bit pixels, as blockSumsU8 (eight columns per step).
  (func (export "blockSumsU16")
    (param $src i32) (param $stride i32) (param $factor i32) (param $width i32) (param $rows i32)
    (param $acc i32) (param $out i32)
    (local $r i32) (local $dy i32) (local $row i32) (local $x i32) (local $cover i32)
    (local $vector i32) (local $at i32) (local $v v128)
    (local.set $cover (i32.mul (local.get $width) (local.get $factor)))
    (local.set $vector (i32.and (local.get $cover) (i32.const -8)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (call $zero (local.get $acc) (i32.shl (local.get $cover) (i32.const 2)))
        (local.set $dy (i32.const 0))
        (block $downDone
          (loop $down
            (br_if $downDone (i32.ge_u (local.get $dy) (local.get $factor)))
            (local.set $row
              (i32.add (local.get $src)
                (i32.mul
                  (i32.add (i32.mul (local.get $r) (local.get $factor)) (local.get $dy))
                  (local.get $stride))))
            (local.set $x (i32.const 0))
            (block $vectorDone
              (loop $vectorLoop
                (br_if $vectorDone (i32.ge_u (local.get $x) (local.get $vector)))
                (local.set $v
                  (v128.load (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 1)))))
                (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $x) (i32.const 2))))
                (v128.store (local.get $at)
                  (i32x4.add (v128.load (local.get $at)) (i32x4.extend_low_i16x8_u (local.get $v))))
                (v128.store offset=16 (local.get $at)
                  (i32x4.add (v128.load offset=16 (local.get $at))
                    (i32x4.extend_high_i16x8_u (local.get $v))))
                (local.set $x (i32.add (local.get $x) (i32.const 8)))
                (br $vectorLoop)))
            (block $tailDone
              (loop $tail
                (br_if $tailDone (i32.ge_u (local.get $x) (local.get $cover)))
                (local.set $at (i32.add (local.get $acc) (i32.shl (local.get $x) (i32.const 2))))
                (i32.store (local.get $at)
                  (i32.add (i32.load (local.get $at))
                    (i32.load16_u (i32.add (local.get $row) (i32.shl (local.get $x) (i32.const 1))))))
                (local.set $x (i32.add (local.get $x) (i32.const 1)))
                (br $tail)))
            (local.set $dy (i32.add (local.get $dy) (i32.const 1)))
            (br $down)))
        (call $acrossBlocks (local.get $acc) (local.get $factor) (local.get $width)
          (i32.add (local.get $out) (i32.shl (i32.mul (local.get $r) (local.get $width)) (i32.const 3))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

;; Noise samples (noise.ts estimateNoiseSigma): for each of `rows` table entries (i32 address of
  ;; the row's first centre pixel c, i32 count), the float32 |c - 0.25 (l + r + u + d)| and
  ;; max(|r - l|, |d - u|) of `count` pixels in a row, packed one row after another at lapOut and
  ;; gradOut (float32). u and d lie `stride` bytes before and after c. Each value is the same
  ;; IEEE double operations, in the same order, as the JavaScript: float32 loads promoted exactly,
  ;; ((l + r) + u) + d, 0.25 times that, c minus it, abs; |r - l| and |d - u|, their max (f64x2.max
  ;; is Math.max: NaN if either is, and both are >= +0 otherwise); each rounded to nearest float32
  ;; as a Float32Array store rounds. Two pixels per step: a row of odd count computes one value
  ;; past its end (the next row overwrites it; the caller pads the memory for its reads and writes).
  ;; Returns the number of values written.
  (func (export "noiseSamples")
    (param $table i32) (param $rows i32) (param $stride i32) (param $lapOut i32) (param $gradOut i32)
    (result i32)
    (local $r i32) (local $c i32) (local $count i32) (local $j i32) (local $n i32) (local $at i32)
    (local $quarter v128) (local $l v128) (local $right v128) (local $u v128) (local $d v128)
    (local.set $quarter (f64x2.splat (f64.const 0.25)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.load (i32.add (local.get $table) (i32.shl (local.get $r) (i32.const 3)))))
        (local.set $count
          (i32.load offset=4 (i32.add (local.get $table) (i32.shl (local.get $r) (i32.const 3)))))
        (local.set $j (i32.const 0))
        (block $pixelsDone
          (loop $pixels
            (br_if $pixelsDone (i32.ge_s (local.get $j) (local.get $count)))
            (local.set $at (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $l (f64x2.promote_low_f32x4 (v128.load64_zero (i32.sub (local.get $at) (i32.const 4)))))
            (local.set $right (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $at))))
            (local.set $u
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.sub (local.get $at) (local.get $stride)))))
            (local.set $d
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $at) (local.get $stride)))))
            (v128.store64_lane 0
              (i32.add (local.get $lapOut) (i32.shl (i32.add (local.get $n) (local.get $j)) (i32.const 2)))
              (f32x4.demote_f64x2_zero
                (f64x2.abs
                  (f64x2.sub
                    (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $at)))
                    (f64x2.mul (local.get $quarter)
                      (f64x2.add
                        (f64x2.add (f64x2.add (local.get $l) (local.get $right)) (local.get $u))
                        (local.get $d)))))))
            (v128.store64_lane 0
              (i32.add (local.get $gradOut) (i32.shl (i32.add (local.get $n) (local.get $j)) (i32.const 2)))
              (f32x4.demote_f64x2_zero
                (f64x2.max
                  (f64x2.abs (f64x2.sub (local.get $right) (local.get $l)))
                  (f64x2.abs (f64x2.sub (local.get $d) (local.get $u))))))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pixels)))
        (local.set $n (i32.add (local.get $n) (local.get $count)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row)))
    (local.get $n))

;; The illumination fit's weighted normal equations (background.ts fitSmoothBackground): for
  ;; each term r < terms and column c in [r, columns) (the basis's terms, then the block values
  ;; as the last column), out[r columns + c] = the sum over blocks j of weight j not 0, in block
  ;; order, of (basis[j][r] w_j) basis[j][c]; basis is block-major (`columns` doubles a block),
  ;; weights one double a block. Each sum is one lane's own chain of f64 mul and add in the
  ;; JavaScript's order (a sum starts at +0; no fused multiply-add), eight columns side by side;
  ;; the lanes past a row's last column read and write padding or entries computed later.
  ;; With $full 1, every row's columns start at 0 (c in [0, columns)): the rim fit's rows
  ;; (rim.ts fitRimShape), whose lower triangle is its own sums, not the upper one's mirror.
  (func (export "normalSums")
    (param $basis i32) (param $columns i32) (param $blocks i32) (param $weights i32) (param $out i32)
    (param $terms i32) (param $full i32)
    (local $r i32) (local $c i32) (local $j i32) (local $row i32) (local $w f64) (local $x v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $at i32)
    (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $columns) (i32.const 3)))
    (block $termsDone
      (loop $term
        (br_if $termsDone (i32.ge_u (local.get $r) (local.get $terms)))
        (local.set $c (select (i32.const 0) (local.get $r) (local.get $full)))
        (block $groupsDone
          (loop $group
            (br_if $groupsDone (i32.ge_u (local.get $c) (local.get $columns)))
            (local.set $s0 (v128.const f64x2 0 0))
            (local.set $s1 (v128.const f64x2 0 0))
            (local.set $s2 (v128.const f64x2 0 0))
            (local.set $s3 (v128.const f64x2 0 0))
            (local.set $j (i32.const 0))
            (local.set $row (local.get $basis))
            (block $blocksDone
              (loop $block
                (br_if $blocksDone (i32.ge_u (local.get $j) (local.get $blocks)))
                (local.set $w (f64.load (i32.add (local.get $weights) (i32.shl (local.get $j) (i32.const 3)))))
                (if (f64.ne (local.get $w) (f64.const 0))
                  (then
                    (local.set $x
                      (f64x2.splat
                        (f64.mul
                          (f64.load (i32.add (local.get $row) (i32.shl (local.get $r) (i32.const 3))))
                          (local.get $w))))
                    (local.set $at (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 3))))
                    (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $x) (v128.load (local.get $at)))))
                    (local.set $s1
                      (f64x2.add (local.get $s1) (f64x2.mul (local.get $x) (v128.load offset=16 (local.get $at)))))
                    (local.set $s2
                      (f64x2.add (local.get $s2) (f64x2.mul (local.get $x) (v128.load offset=32 (local.get $at)))))
                    (local.set $s3
                      (f64x2.add (local.get $s3) (f64x2.mul (local.get $x) (v128.load offset=48 (local.get $at)))))))
                (local.set $row (i32.add (local.get $row) (local.get $rowBytes)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $block)))
            (local.set $at
              (i32.add (local.get $out)
                (i32.shl (i32.add (i32.mul (local.get $r) (local.get $columns)) (local.get $c)) (i32.const 3))))
            (v128.store (local.get $at) (local.get $s0))
            (v128.store offset=16 (local.get $at) (local.get $s1))
            (v128.store offset=32 (local.get $at) (local.get $s2))
            (v128.store offset=48 (local.get $at) (local.get $s3))
            (local.set $c (i32.add (local.get $c) (i32.const 8)))
            (br $group)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $term))))

;; The block means as float32 (frame-passes.ts blockMeansKernel and bin2AndBlockMeansKernel):
  ;; out[k] = f32(sums[k] * norm) for k < count, sums as f64 at src, out as f32 at dst (not
  ;; overlapping). JavaScript (overviewOf's path without the kernel) takes the double
  ;; product and a Float32Array store rounds it to nearest, ties to even; f64x2.mul is the same
  ;; double product lane by lane and f32x4.demote_f64x2_zero the same rounding. Two at a time,
  ;; then one left over.
  (func (export "scaleToFloat32") (param $src i32) (param $count i32) (param $norm f64) (param $dst i32)
    (local $k i32) (local $pairs i32) (local $scale v128)
    (local.set $scale (f64x2.splat (local.get $norm)))
    (local.set $pairs (i32.and (local.get $count) (i32.const -2)))
    (block $pairsDone
      (loop $pair
        (br_if $pairsDone (i32.ge_u (local.get $k) (local.get $pairs)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
          (f32x4.demote_f64x2_zero
            (f64x2.mul (v128.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 3))))
              (local.get $scale))))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $pair)))
    (if (i32.lt_u (local.get $k) (local.get $count)) (then
      (f32.store (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 2)))
        (f32.demote_f64 (f64.mul (f64.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 3))))
          (local.get $norm)))))))

;; Zeroes bytes [at, at + bytes rounded up to 16) (the column sums; the caller pads them).
  (func $zero (param $at i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $at) (local.get $bytes)))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
        (v128.store (local.get $at) (v128.const i64x2 0 0))
        (local.set $at (i32.add (local.get $at) (i32.const 16)))
        (br $fill))))

  ;; Sums each run of `factor` column sums at acc into one f64 at out (width of them).
  (func $acrossBlocks (param $acc i32) (param $factor i32) (param $width i32) (param $out i32)
    (local $bx i32) (local $dx i32) (local $sum i32) (local $at i32)
    (local.set $at (local.get $acc))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $bx) (local.get $width)))
        (local.set $sum (i32.const 0))
        (local.set $dx (i32.const 0))
        (block $blockDone
          (loop $block
            (br_if $blockDone (i32.ge_u (local.get $dx) (local.get $factor)))
            (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $at))))
            (local.set $at (i32.add (local.get $at) (i32.const 4)))
            (local.set $dx (i32.add (local.get $dx) (i32.const 1)))
            (br $block)))
        (f64.store (i32.add (local.get $out) (i32.shl (local.get $bx) (i32.const 3)))
          (f64.convert_i32_u (local.get $sum)))
        (local.set $bx (i32.add (local.get $bx) (i32.const 1)))
        (br $blocks))))
)
