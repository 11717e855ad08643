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
)
