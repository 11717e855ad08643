;; Die-to-die residual kernels in WebAssembly SIMD (f64x2 / f32x4): the same arithmetic, in the
;; same order and precision, as the JavaScript of die-to-die.ts (interiorRun, edgePixel,
;; cellRangeRow), two or four pixels per instruction. Assembled by scripts/build-wasm.ts into die-to-die-kernel.ts.
;;
;; Why it is exact: every JavaScript step is one IEEE operation on doubles (float32 samples are
;; promoted exactly); f64x2 add/sub/mul/neg/abs/min/max are the same operations lane by lane
;; (min/max propagate NaN and order -0 below +0, as Math.min/Math.max do; edgePixel's comparisons
;; and conditionals become lane masks and bitselects), the float32 store is
;; the same round-to-nearest (f32x4.demote_f64x2_zero), and nothing is fused or reassociated.
;; The cell ranges are max - min of four float32 values: f32x4 max/min equal Math.max/Math.min of
;; the promoted values, and a float32 subtraction equals the double one rounded to float32
;; (double rounding is exact for +, -, *, / when 53 >= 2 * 24 + 2).
;;
;; Memory (exported, grown by the caller): bytes 0..511 hold the parameters:
;;   f64 fx[8] at 0, f64 fy[8] at 64, f64 share[4] at 128, f64 noiseSigma at 160,
;;   f64 the rim ring's fixed misregistration share at 168,
;;   i32 offset[8] at 192 (pixel index of each shift's top-left sample minus the pixel's),
;;   i32 rangeDelta[8] at 224 (ring index of each shift's cell minus the pixel's index),
;;   and the same for the shifts two dies away (the rim ring's extrapolations):
;;   f64 fx2[8] at 256, f64 fy2[8] at 320, i32 offset2[8] at 384, i32 rangeDelta2[8] at 416;
;;   for `row`, the current row's x runs over which each shift's sample lies on the wafer:
;;   i32 lower[8] at 448, upper[8] at 480 (one die away), lower2[8] at 512, upper2[8] at 544
;;   (two dies away), the rim ring's edge gains (u8[256] at 576, indexed by the four directions'
;;   kinds of reference, 2 bits each), and its scratch: i32 cuts[36] at 832, i32 modes[4] at 976;
;;   f64 the rim ring's two-die extrapolation shares[4] at 992 (extrapolationMisregistrationShare);
;;   for `interior`, the last row it ran on: i32 base at 176 (the caller writes -2^31 before a
;;   map's first row: none), first at 180, last at 184 (map indices).
;; Bytes 0..1023 in all (PARAMETER_BYTES in kernel.ts).
;; Shifts are interleaved +d, -d per direction (a, b, a + b, a - b), as in dieToDieResidual.
(module
  (memory (export "memory") 1)

  ;; Residuals of pixels first..last (indices into the map at dataPtr; every shift's samples lie
  ;; on the map), written as float32 to outPtr + 4 * (p - first). Pixels go two at a time: when
  ;; the count is odd, one value past `last` is computed and written too (the caller pads both
  ;; the map and the output).
  ;; For a map of finite values only (the caller checks with `allFinite`; any other map takes
  ;; the JavaScript path): then min and max are pmin / pmax (b < a ? b : a, a < b ? b : a),
  ;; one instruction each instead of the NaN- and signed-zero-aware sequence f64x2.min/max
  ;; compile to, and the same values: with finite operands the two differ only on a +0 against
  ;; a -0, and no such pair reaches them here. Cell ranges are max - min in float32, never -0
  ;; (x - x is +0; max = -0 with min = +0 cannot be) and never negative; so
  ;; max(range_a, range_b) and share * range - sigma are never -0 either (share > 0, sigma >= 0
  ;; or -0), and max(0, that) sees no -0. In min(max(d, -allowance), allowance), allowance is
  ;; never -0: when d and -allowance are both zeros, -allowance is -0 and pmax returns d, as
  ;; Math.max does (+0 over -0, -0 when both are); pmin then sees allowance = +0 second and
  ;; returns its first operand on a tie, -0 when that is -0, as Math.min does. The magnitudes
  ;; of the 2nd smallest are |e|: never -0, never NaN, so any of two equal ones is the same bits.
  (func $interior (export "interior")
    (param $dataPtr i32) (param $ringPtr i32) (param $outPtr i32) (param $width i32)
    (param $first i32) (param $last i32) (param $base i32) (param $rowsPtr i32)
    (local $q i32) (local $end i32) (local $outBase i32)
    (local $reuseFrom i32) (local $reuseTo i32) (local $reuse i32) (local $p i32) (local $hq i32)
    (local $hStride i32) (local $h0 i32) (local $h1 i32) (local $h2 i32) (local $h3 i32)
    (local $h4 i32) (local $h5 i32) (local $h6 i32) (local $h7 i32)
    (local $top0 i32) (local $bottom0 i32) (local $range0 i32) (local $fx0 v128) (local $fy0 v128)
    (local $top1 i32) (local $bottom1 i32) (local $range1 i32) (local $fx1 v128) (local $fy1 v128)
    (local $top2 i32) (local $bottom2 i32) (local $range2 i32) (local $fx2 v128) (local $fy2 v128)
    (local $top3 i32) (local $bottom3 i32) (local $range3 i32) (local $fx3 v128) (local $fy3 v128)
    (local $top4 i32) (local $bottom4 i32) (local $range4 i32) (local $fx4 v128) (local $fy4 v128)
    (local $top5 i32) (local $bottom5 i32) (local $range5 i32) (local $fx5 v128) (local $fy5 v128)
    (local $top6 i32) (local $bottom6 i32) (local $range6 i32) (local $fx6 v128) (local $fy6 v128)
    (local $top7 i32) (local $bottom7 i32) (local $range7 i32) (local $fx7 v128) (local $fy7 v128)
    (local $share0 v128) (local $share1 v128) (local $share2 v128) (local $share3 v128)
    (local $sigma v128) (local $half v128) (local $zero v128) (local $one v128) (local $minusOne v128)
    (local $v v128) (local $left v128) (local $aTop v128) (local $aBottom v128) (local $bTop v128)
    (local $bBottom v128) (local $ref v128) (local $allowance v128) (local $d v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128)
    (local $sum v128) (local $second v128)
    (local.set $top0 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=192 (i32.const 0)) (i32.const 2))))
    (local.set $bottom0 (i32.add (local.get $top0) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range0 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=224 (i32.const 0)) (i32.const 2))))
    (local.set $fx0 (f64x2.splat (f64.load offset=0 (i32.const 0))))
    (local.set $fy0 (f64x2.splat (f64.load offset=64 (i32.const 0))))
    (local.set $top1 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=196 (i32.const 0)) (i32.const 2))))
    (local.set $bottom1 (i32.add (local.get $top1) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range1 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=228 (i32.const 0)) (i32.const 2))))
    (local.set $fx1 (f64x2.splat (f64.load offset=8 (i32.const 0))))
    (local.set $fy1 (f64x2.splat (f64.load offset=72 (i32.const 0))))
    (local.set $top2 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=200 (i32.const 0)) (i32.const 2))))
    (local.set $bottom2 (i32.add (local.get $top2) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range2 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=232 (i32.const 0)) (i32.const 2))))
    (local.set $fx2 (f64x2.splat (f64.load offset=16 (i32.const 0))))
    (local.set $fy2 (f64x2.splat (f64.load offset=80 (i32.const 0))))
    (local.set $top3 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=204 (i32.const 0)) (i32.const 2))))
    (local.set $bottom3 (i32.add (local.get $top3) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range3 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=236 (i32.const 0)) (i32.const 2))))
    (local.set $fx3 (f64x2.splat (f64.load offset=24 (i32.const 0))))
    (local.set $fy3 (f64x2.splat (f64.load offset=88 (i32.const 0))))
    (local.set $top4 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=208 (i32.const 0)) (i32.const 2))))
    (local.set $bottom4 (i32.add (local.get $top4) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range4 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=240 (i32.const 0)) (i32.const 2))))
    (local.set $fx4 (f64x2.splat (f64.load offset=32 (i32.const 0))))
    (local.set $fy4 (f64x2.splat (f64.load offset=96 (i32.const 0))))
    (local.set $top5 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=212 (i32.const 0)) (i32.const 2))))
    (local.set $bottom5 (i32.add (local.get $top5) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range5 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=244 (i32.const 0)) (i32.const 2))))
    (local.set $fx5 (f64x2.splat (f64.load offset=40 (i32.const 0))))
    (local.set $fy5 (f64x2.splat (f64.load offset=104 (i32.const 0))))
    (local.set $top6 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=216 (i32.const 0)) (i32.const 2))))
    (local.set $bottom6 (i32.add (local.get $top6) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range6 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=248 (i32.const 0)) (i32.const 2))))
    (local.set $fx6 (f64x2.splat (f64.load offset=48 (i32.const 0))))
    (local.set $fy6 (f64x2.splat (f64.load offset=112 (i32.const 0))))
    (local.set $top7 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=220 (i32.const 0)) (i32.const 2))))
    (local.set $bottom7 (i32.add (local.get $top7) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $range7 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=252 (i32.const 0)) (i32.const 2))))
    (local.set $fx7 (f64x2.splat (f64.load offset=56 (i32.const 0))))
    (local.set $fy7 (f64x2.splat (f64.load offset=120 (i32.const 0))))
    (local.set $share0 (f64x2.splat (f64.load offset=128 (i32.const 0))))
    (local.set $share1 (f64x2.splat (f64.load offset=136 (i32.const 0))))
    (local.set $share2 (f64x2.splat (f64.load offset=144 (i32.const 0))))
    (local.set $share3 (f64x2.splat (f64.load offset=152 (i32.const 0))))
    (local.set $sigma (f64x2.splat (f64.load offset=160 (i32.const 0))))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $zero (f64x2.splat (f64.const 0)))
    (local.set $one (f64x2.splat (f64.const 1)))
    (local.set $minusOne (f64x2.splat (f64.const -1)))
    ;; Each shift's bottom interpolations of this row, kept by column (8 x (width + 16) doubles
    ;; at rowsPtr) for the next row: a shift's bottom row here is its top row there (the same
    ;; two samples, the same fraction, the same operations: the same doubles). Valid where the
    ;; last row this ran on (base, first and last at 176, 180 and 184) is the row above and
    ;; covered both of a pair's pixels; elsewhere the top is interpolated as before.
    (local.set $hStride (i32.shl (i32.add (local.get $width) (i32.const 16)) (i32.const 3)))
    (local.set $h0 (local.get $rowsPtr))
    (local.set $h1 (i32.add (local.get $h0) (local.get $hStride)))
    (local.set $h2 (i32.add (local.get $h1) (local.get $hStride)))
    (local.set $h3 (i32.add (local.get $h2) (local.get $hStride)))
    (local.set $h4 (i32.add (local.get $h3) (local.get $hStride)))
    (local.set $h5 (i32.add (local.get $h4) (local.get $hStride)))
    (local.set $h6 (i32.add (local.get $h5) (local.get $hStride)))
    (local.set $h7 (i32.add (local.get $h6) (local.get $hStride)))
    (local.set $reuseFrom (i32.const 1))
    (local.set $reuseTo (i32.const 0))
    (if (i32.eq (i32.load offset=176 (i32.const 0)) (i32.sub (local.get $base) (local.get $width)))
      (then
        (local.set $reuseFrom (i32.add (i32.load offset=180 (i32.const 0)) (local.get $width)))
        (local.set $reuseTo (i32.add (i32.load offset=184 (i32.const 0)) (local.get $width)))))
    (i32.store offset=176 (i32.const 0) (local.get $base))
    (i32.store offset=180 (i32.const 0) (local.get $first))
    (i32.store offset=184 (i32.const 0) (local.get $last))
    (local.set $hq (i32.shl (i32.sub (local.get $first) (local.get $base)) (i32.const 3)))
    (local.set $q (i32.shl (local.get $first) (i32.const 2)))
    (local.set $end (i32.shl (local.get $last) (i32.const 2)))
    (local.set $outBase (i32.sub (local.get $outPtr) (local.get $q)))
    (block $done
      (loop $pixels
        (br_if $done (i32.gt_u (local.get $q) (local.get $end)))
        (local.set $p (i32.shr_u (local.get $q) (i32.const 2)))
        (local.set $reuse (i32.and (i32.ge_s (local.get $p) (local.get $reuseFrom))
          (i32.le_s (i32.add (local.get $p) (i32.const 1)) (local.get $reuseTo))))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dataPtr) (local.get $q)))))

      ;; Direction 0: the pair average of shifts 0 (+d) and 1 (-d), bilinear at fractions fx, fy.
      (if (local.get $reuse)
        (then (local.set $aTop (v128.load (i32.add (local.get $h0) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top0) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top0) (local.get $q))))
        (local.get $left)) (local.get $fx0))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom0) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom0) (local.get $q))))
        (local.get $left)) (local.get $fx0))))
      (v128.store (i32.add (local.get $h0) (local.get $hq)) (local.get $aBottom))
      (if (local.get $reuse)
        (then (local.set $bTop (v128.load (i32.add (local.get $h1) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top1) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top1) (local.get $q))))
        (local.get $left)) (local.get $fx1))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom1) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom1) (local.get $q))))
        (local.get $left)) (local.get $fx1))))
      (v128.store (i32.add (local.get $h1) (local.get $hq)) (local.get $bBottom))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy0)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy1)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.pmax (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share0)
        (f64x2.pmax
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range0) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range1) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e0 (f64x2.sub (local.get $d) (f64x2.pmin
        (f64x2.pmax (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m0 (f64x2.abs (local.get $e0)))
      ;; Direction 1: the pair average of shifts 2 (+d) and 3 (-d), bilinear at fractions fx, fy.
      (if (local.get $reuse)
        (then (local.set $aTop (v128.load (i32.add (local.get $h2) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top2) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top2) (local.get $q))))
        (local.get $left)) (local.get $fx2))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom2) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom2) (local.get $q))))
        (local.get $left)) (local.get $fx2))))
      (v128.store (i32.add (local.get $h2) (local.get $hq)) (local.get $aBottom))
      (if (local.get $reuse)
        (then (local.set $bTop (v128.load (i32.add (local.get $h3) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top3) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top3) (local.get $q))))
        (local.get $left)) (local.get $fx3))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom3) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom3) (local.get $q))))
        (local.get $left)) (local.get $fx3))))
      (v128.store (i32.add (local.get $h3) (local.get $hq)) (local.get $bBottom))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy2)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy3)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.pmax (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share1)
        (f64x2.pmax
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range2) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range3) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e1 (f64x2.sub (local.get $d) (f64x2.pmin
        (f64x2.pmax (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m1 (f64x2.abs (local.get $e1)))
      ;; Direction 2: the pair average of shifts 4 (+d) and 5 (-d), bilinear at fractions fx, fy.
      (if (local.get $reuse)
        (then (local.set $aTop (v128.load (i32.add (local.get $h4) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top4) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top4) (local.get $q))))
        (local.get $left)) (local.get $fx4))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom4) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom4) (local.get $q))))
        (local.get $left)) (local.get $fx4))))
      (v128.store (i32.add (local.get $h4) (local.get $hq)) (local.get $aBottom))
      (if (local.get $reuse)
        (then (local.set $bTop (v128.load (i32.add (local.get $h5) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top5) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top5) (local.get $q))))
        (local.get $left)) (local.get $fx5))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom5) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom5) (local.get $q))))
        (local.get $left)) (local.get $fx5))))
      (v128.store (i32.add (local.get $h5) (local.get $hq)) (local.get $bBottom))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy4)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy5)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.pmax (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share2)
        (f64x2.pmax
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range4) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range5) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e2 (f64x2.sub (local.get $d) (f64x2.pmin
        (f64x2.pmax (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m2 (f64x2.abs (local.get $e2)))
      ;; Direction 3: the pair average of shifts 6 (+d) and 7 (-d), bilinear at fractions fx, fy.
      (if (local.get $reuse)
        (then (local.set $aTop (v128.load (i32.add (local.get $h6) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top6) (local.get $q)))))
      (local.set $aTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top6) (local.get $q))))
        (local.get $left)) (local.get $fx6))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom6) (local.get $q)))))
      (local.set $aBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom6) (local.get $q))))
        (local.get $left)) (local.get $fx6))))
      (v128.store (i32.add (local.get $h6) (local.get $hq)) (local.get $aBottom))
      (if (local.get $reuse)
        (then (local.set $bTop (v128.load (i32.add (local.get $h7) (local.get $hq)))))
        (else
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $top7) (local.get $q)))))
      (local.set $bTop (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $top7) (local.get $q))))
        (local.get $left)) (local.get $fx7))))))
      (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $bottom7) (local.get $q)))))
      (local.set $bBottom (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
        (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $bottom7) (local.get $q))))
        (local.get $left)) (local.get $fx7))))
      (v128.store (i32.add (local.get $h7) (local.get $hq)) (local.get $bBottom))
      ;; ref = 0.5 * (aTop + (aBottom - aTop) * fy_a + bTop + (bBottom - bTop) * fy_b), summed left to right
      (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (f64x2.add (f64x2.add
        (local.get $aTop) (f64x2.mul (f64x2.sub (local.get $aBottom) (local.get $aTop)) (local.get $fy6)))
        (local.get $bTop)) (f64x2.mul (f64x2.sub (local.get $bBottom) (local.get $bTop)) (local.get $fy7)))))
      ;; allowance = max(0, share * max(range_a, range_b) - sigma)
      (local.set $allowance (f64x2.pmax (local.get $zero) (f64x2.sub (f64x2.mul (local.get $share3)
        (f64x2.pmax
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range6) (local.get $q))))
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range7) (local.get $q))))))
        (local.get $sigma))))
      ;; e = d - min(max(d, -allowance), allowance), d = v - ref
      (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
      (local.set $e3 (f64x2.sub (local.get $d) (f64x2.pmin
        (f64x2.pmax (local.get $d) (f64x2.neg (local.get $allowance))) (local.get $allowance))))
      (local.set $m3 (f64x2.abs (local.get $e3)))

        ;; 2nd smallest of the four magnitudes, signed by the sum ((e0 + e1) + e2) + e3.
        (local.set $second (f64x2.pmin
          (f64x2.pmax (f64x2.pmin (local.get $m0) (local.get $m1)) (f64x2.pmin (local.get $m2) (local.get $m3)))
          (f64x2.pmin (f64x2.pmax (local.get $m0) (local.get $m1)) (f64x2.pmax (local.get $m2) (local.get $m3)))))
        (local.set $sum (f64x2.add (f64x2.add (f64x2.add (local.get $e0) (local.get $e1)) (local.get $e2)) (local.get $e3)))
        ;; Math.sign(sum): 1 above 0, -1 below, else the sum itself (+0, -0, NaN).
        (v128.store64_lane 0 (i32.add (local.get $outBase) (local.get $q))
          (f32x4.demote_f64x2_zero (f64x2.mul
            (v128.bitselect (local.get $one)
              (v128.bitselect (local.get $minusOne) (local.get $sum) (f64x2.lt (local.get $sum) (local.get $zero)))
              (f64x2.gt (local.get $sum) (local.get $zero)))
            (local.get $second))))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (local.set $hq (i32.add (local.get $hq) (i32.const 16)))
        (br $pixels))))

  ;; Residuals of rim-ring pixels first..last (edgePixel's work) that share one set of
  ;; references: per direction d, mode{d} says which (1 the pair average, with the direction's
  ;; pair share at 128 as inside, 2 / 3 the two-die
  ;; extrapolation from its +d / -d side, 4 / 5 that one die, 0 none). The reported value is the
  ;; signed 2nd smallest deviation when `useSecond` is 1 (three or four references), else the
  ;; smallest; ties keep the earlier direction, as edgePixel's running best and second do.
  ;; Two pixels at a time, like `interior`. A pair's spread is pmax of its two cell ranges:
  ;; finite (the map is, see `allFinite`), never negative and never -0 (see `interior`), so
  ;; pmax gives Math.max's bits in one instruction.
  (func $edge (export "edge")
    (param $dataPtr i32) (param $ringPtr i32) (param $outPtr i32) (param $width i32)
    (param $first i32) (param $last i32)
    (param $mode0 i32) (param $mode1 i32) (param $mode2 i32) (param $mode3 i32) (param $useSecond i32)
    (param $veto i32) (param $pairsDecide i32)
    (local $q i32) (local $end i32) (local $outBase i32) (local $rowBytes i32) (local $p i32)
    (local $top0 i32) (local $twoTop0 i32) (local $range0 i32) (local $twoRange0 i32)
    (local $fx0 v128) (local $fy0 v128) (local $twoFx0 v128) (local $twoFy0 v128)
    (local $top1 i32) (local $twoTop1 i32) (local $range1 i32) (local $twoRange1 i32)
    (local $fx1 v128) (local $fy1 v128) (local $twoFx1 v128) (local $twoFy1 v128)
    (local $top2 i32) (local $twoTop2 i32) (local $range2 i32) (local $twoRange2 i32)
    (local $fx2 v128) (local $fy2 v128) (local $twoFx2 v128) (local $twoFy2 v128)
    (local $top3 i32) (local $twoTop3 i32) (local $range3 i32) (local $twoRange3 i32)
    (local $fx3 v128) (local $fy3 v128) (local $twoFx3 v128) (local $twoFy3 v128)
    (local $top4 i32) (local $twoTop4 i32) (local $range4 i32) (local $twoRange4 i32)
    (local $fx4 v128) (local $fy4 v128) (local $twoFx4 v128) (local $twoFy4 v128)
    (local $top5 i32) (local $twoTop5 i32) (local $range5 i32) (local $twoRange5 i32)
    (local $fx5 v128) (local $fy5 v128) (local $twoFx5 v128) (local $twoFy5 v128)
    (local $top6 i32) (local $twoTop6 i32) (local $range6 i32) (local $twoRange6 i32)
    (local $fx6 v128) (local $fy6 v128) (local $twoFx6 v128) (local $twoFy6 v128)
    (local $top7 i32) (local $twoTop7 i32) (local $range7 i32) (local $twoRange7 i32)
    (local $fx7 v128) (local $fy7 v128) (local $twoFx7 v128) (local $twoFy7 v128)
    (local $share v128) (local $share0 v128) (local $share1 v128) (local $share2 v128) (local $share3 v128)
    (local $sigma v128) (local $half v128) (local $two v128) (local $zero v128)
    (local $infinity v128)
    (local $v v128) (local $left v128) (local $upper v128) (local $lower v128) (local $near v128)
    (local $far v128) (local $ref v128) (local $spread v128) (local $allowance v128) (local $d v128)
    (local $e v128) (local $mag v128) (local $c1 v128) (local $c2 v128)
    (local $best v128) (local $second v128) (local $bestSigned v128) (local $secondSigned v128)
    (local $pairBest v128) (local $pairBestSigned v128) (local $oneD v128) (local $oneA v128)
    (local.set $top0 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=192 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop0 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=384 (i32.const 0)) (i32.const 2))))
    (local.set $range0 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=224 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange0 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=416 (i32.const 0)) (i32.const 2))))
    (local.set $fx0 (f64x2.splat (f64.load offset=0 (i32.const 0))))
    (local.set $fy0 (f64x2.splat (f64.load offset=64 (i32.const 0))))
    (local.set $twoFx0 (f64x2.splat (f64.load offset=256 (i32.const 0))))
    (local.set $twoFy0 (f64x2.splat (f64.load offset=320 (i32.const 0))))
    (local.set $top1 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=196 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop1 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=388 (i32.const 0)) (i32.const 2))))
    (local.set $range1 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=228 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange1 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=420 (i32.const 0)) (i32.const 2))))
    (local.set $fx1 (f64x2.splat (f64.load offset=8 (i32.const 0))))
    (local.set $fy1 (f64x2.splat (f64.load offset=72 (i32.const 0))))
    (local.set $twoFx1 (f64x2.splat (f64.load offset=264 (i32.const 0))))
    (local.set $twoFy1 (f64x2.splat (f64.load offset=328 (i32.const 0))))
    (local.set $top2 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=200 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop2 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=392 (i32.const 0)) (i32.const 2))))
    (local.set $range2 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=232 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange2 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=424 (i32.const 0)) (i32.const 2))))
    (local.set $fx2 (f64x2.splat (f64.load offset=16 (i32.const 0))))
    (local.set $fy2 (f64x2.splat (f64.load offset=80 (i32.const 0))))
    (local.set $twoFx2 (f64x2.splat (f64.load offset=272 (i32.const 0))))
    (local.set $twoFy2 (f64x2.splat (f64.load offset=336 (i32.const 0))))
    (local.set $top3 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=204 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop3 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=396 (i32.const 0)) (i32.const 2))))
    (local.set $range3 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=236 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange3 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=428 (i32.const 0)) (i32.const 2))))
    (local.set $fx3 (f64x2.splat (f64.load offset=24 (i32.const 0))))
    (local.set $fy3 (f64x2.splat (f64.load offset=88 (i32.const 0))))
    (local.set $twoFx3 (f64x2.splat (f64.load offset=280 (i32.const 0))))
    (local.set $twoFy3 (f64x2.splat (f64.load offset=344 (i32.const 0))))
    (local.set $top4 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=208 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop4 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=400 (i32.const 0)) (i32.const 2))))
    (local.set $range4 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=240 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange4 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=432 (i32.const 0)) (i32.const 2))))
    (local.set $fx4 (f64x2.splat (f64.load offset=32 (i32.const 0))))
    (local.set $fy4 (f64x2.splat (f64.load offset=96 (i32.const 0))))
    (local.set $twoFx4 (f64x2.splat (f64.load offset=288 (i32.const 0))))
    (local.set $twoFy4 (f64x2.splat (f64.load offset=352 (i32.const 0))))
    (local.set $top5 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=212 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop5 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=404 (i32.const 0)) (i32.const 2))))
    (local.set $range5 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=244 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange5 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=436 (i32.const 0)) (i32.const 2))))
    (local.set $fx5 (f64x2.splat (f64.load offset=40 (i32.const 0))))
    (local.set $fy5 (f64x2.splat (f64.load offset=104 (i32.const 0))))
    (local.set $twoFx5 (f64x2.splat (f64.load offset=296 (i32.const 0))))
    (local.set $twoFy5 (f64x2.splat (f64.load offset=360 (i32.const 0))))
    (local.set $top6 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=216 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop6 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=408 (i32.const 0)) (i32.const 2))))
    (local.set $range6 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=248 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange6 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=440 (i32.const 0)) (i32.const 2))))
    (local.set $fx6 (f64x2.splat (f64.load offset=48 (i32.const 0))))
    (local.set $fy6 (f64x2.splat (f64.load offset=112 (i32.const 0))))
    (local.set $twoFx6 (f64x2.splat (f64.load offset=304 (i32.const 0))))
    (local.set $twoFy6 (f64x2.splat (f64.load offset=368 (i32.const 0))))
    (local.set $top7 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=220 (i32.const 0)) (i32.const 2))))
    (local.set $twoTop7 (i32.add (local.get $dataPtr) (i32.shl (i32.load offset=412 (i32.const 0)) (i32.const 2))))
    (local.set $range7 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=252 (i32.const 0)) (i32.const 2))))
    (local.set $twoRange7 (i32.add (local.get $ringPtr) (i32.shl (i32.load offset=444 (i32.const 0)) (i32.const 2))))
    (local.set $fx7 (f64x2.splat (f64.load offset=56 (i32.const 0))))
    (local.set $fy7 (f64x2.splat (f64.load offset=120 (i32.const 0))))
    (local.set $twoFx7 (f64x2.splat (f64.load offset=312 (i32.const 0))))
    (local.set $twoFy7 (f64x2.splat (f64.load offset=376 (i32.const 0))))
    (local.set $share (f64x2.splat (f64.load offset=168 (i32.const 0))))
    ;; A pair forgives its direction's share (pairMisregistrationShare), as inside; a two-die
    ;; extrapolation (modes 2 / 3) its own (at 992) where two or more pairs decide with it
    ;; (pairsDecide), else, and a single die always, the fixed share.
    (local.set $share0 (f64x2.splat (select (f64.load offset=128 (i32.const 0))
      (select (f64.load offset=992 (i32.const 0)) (f64.load offset=168 (i32.const 0))
        (i32.and (local.get $pairsDecide)
          (i32.or (i32.eq (local.get $mode0) (i32.const 2)) (i32.eq (local.get $mode0) (i32.const 3)))))
      (i32.eq (local.get $mode0) (i32.const 1)))))
    (local.set $share1 (f64x2.splat (select (f64.load offset=136 (i32.const 0))
      (select (f64.load offset=1000 (i32.const 0)) (f64.load offset=168 (i32.const 0))
        (i32.and (local.get $pairsDecide)
          (i32.or (i32.eq (local.get $mode1) (i32.const 2)) (i32.eq (local.get $mode1) (i32.const 3)))))
      (i32.eq (local.get $mode1) (i32.const 1)))))
    (local.set $share2 (f64x2.splat (select (f64.load offset=144 (i32.const 0))
      (select (f64.load offset=1008 (i32.const 0)) (f64.load offset=168 (i32.const 0))
        (i32.and (local.get $pairsDecide)
          (i32.or (i32.eq (local.get $mode2) (i32.const 2)) (i32.eq (local.get $mode2) (i32.const 3)))))
      (i32.eq (local.get $mode2) (i32.const 1)))))
    (local.set $share3 (f64x2.splat (select (f64.load offset=152 (i32.const 0))
      (select (f64.load offset=1016 (i32.const 0)) (f64.load offset=168 (i32.const 0))
        (i32.and (local.get $pairsDecide)
          (i32.or (i32.eq (local.get $mode3) (i32.const 2)) (i32.eq (local.get $mode3) (i32.const 3)))))
      (i32.eq (local.get $mode3) (i32.const 1)))))
    (local.set $sigma (f64x2.splat (f64.load offset=160 (i32.const 0))))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $two (f64x2.splat (f64.const 2)))
    (local.set $zero (f64x2.splat (f64.const 0)))
    (local.set $infinity (f64x2.splat (f64.const inf)))
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $q (i32.shl (local.get $first) (i32.const 2)))
    (local.set $end (i32.shl (local.get $last) (i32.const 2)))
    (local.set $outBase (i32.sub (local.get $outPtr) (local.get $q)))
    (block $done
      (loop $pixels
        (br_if $done (i32.gt_u (local.get $q) (local.get $end)))
        (local.set $v (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $dataPtr) (local.get $q)))))
        (local.set $best (local.get $infinity))
        (local.set $second (local.get $infinity))
        (local.set $bestSigned (local.get $zero))
        (local.set $secondSigned (local.get $zero))
        (local.set $pairBest (local.get $infinity))
        (local.set $pairBestSigned (local.get $zero))

        ;; Direction 0 (shifts 0 and 1): mode 1 pair, 2 / 3 extrapolated from shift 0 / 1,
        ;; 4 / 5 that single die, 0 none.
        (if (local.get $mode0) (then
          (if (i32.eq (local.get $mode0) (i32.const 1)) (then 
          (local.set $p (i32.add (local.get $top0) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy0))))
          (local.set $p (i32.add (local.get $top1) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy1))))
          (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (local.get $near) (local.get $far))))
          (local.set $spread (f64x2.pmax (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range0) (local.get $q)))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range1) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode0) (i32.const 2)) (then 
          (local.set $p (i32.add (local.get $top0) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy0))))
          (local.set $p (i32.add (local.get $twoTop0) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx0))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx0))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy0))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range0) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange0) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode0) (i32.const 3)) (then 
          (local.set $p (i32.add (local.get $top1) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy1))))
          (local.set $p (i32.add (local.get $twoTop1) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx1))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx1))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy1))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range1) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange1) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode0) (i32.const 4)) (then 
          (local.set $p (i32.add (local.get $top0) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx0))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy0))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range0) (local.get $q)))))
          ) (else 
          (local.set $p (i32.add (local.get $top1) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx1))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy1))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range1) (local.get $q)))))
          ))))))))
          (local.set $allowance (f64x2.sub (f64x2.mul (local.get $share0) (local.get $spread)) (local.get $sigma)))
          (local.set $allowance (v128.bitselect (local.get $zero) (local.get $allowance)
            (f64x2.lt (local.get $allowance) (local.get $zero))))
          (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
          (local.set $e (v128.bitselect (f64x2.sub (local.get $d) (local.get $allowance))
            (v128.bitselect (f64x2.add (local.get $d) (local.get $allowance)) (local.get $zero)
              (f64x2.lt (local.get $d) (f64x2.neg (local.get $allowance))))
            (f64x2.gt (local.get $d) (local.get $allowance))))
          (local.set $mag (v128.bitselect (f64x2.neg (local.get $e)) (local.get $e) (f64x2.lt (local.get $e) (local.get $zero))))
          (local.set $c1 (f64x2.lt (local.get $mag) (local.get $best)))
          (local.set $c2 (v128.andnot (f64x2.lt (local.get $mag) (local.get $second)) (local.get $c1)))
          (local.set $second (v128.bitselect (local.get $best)
            (v128.bitselect (local.get $mag) (local.get $second) (local.get $c2)) (local.get $c1)))
          (local.set $secondSigned (v128.bitselect (local.get $bestSigned)
            (v128.bitselect (local.get $e) (local.get $secondSigned) (local.get $c2)) (local.get $c1)))
          (local.set $best (v128.bitselect (local.get $mag) (local.get $best) (local.get $c1)))
          (local.set $bestSigned (v128.bitselect (local.get $e) (local.get $bestSigned) (local.get $c1)))
          ;; The veto's bookkeeping (edgePixel): the pairs' smallest, the one-sided d and allowance.
          (if (local.get $veto) (then
            (if (i32.eq (local.get $mode0) (i32.const 1))
              (then
                (local.set $c1 (f64x2.lt (local.get $mag) (local.get $pairBest)))
                (local.set $pairBestSigned (v128.bitselect (local.get $e) (local.get $pairBestSigned) (local.get $c1)))
                (local.set $pairBest (v128.bitselect (local.get $mag) (local.get $pairBest) (local.get $c1))))
              (else
                (local.set $oneD (local.get $d))
                (local.set $oneA (local.get $allowance))))))))
        ;; Direction 1 (shifts 2 and 3): mode 1 pair, 2 / 3 extrapolated from shift 2 / 3,
        ;; 4 / 5 that single die, 0 none.
        (if (local.get $mode1) (then
          (if (i32.eq (local.get $mode1) (i32.const 1)) (then 
          (local.set $p (i32.add (local.get $top2) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy2))))
          (local.set $p (i32.add (local.get $top3) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy3))))
          (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (local.get $near) (local.get $far))))
          (local.set $spread (f64x2.pmax (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range2) (local.get $q)))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range3) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode1) (i32.const 2)) (then 
          (local.set $p (i32.add (local.get $top2) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy2))))
          (local.set $p (i32.add (local.get $twoTop2) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx2))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx2))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy2))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range2) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange2) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode1) (i32.const 3)) (then 
          (local.set $p (i32.add (local.get $top3) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy3))))
          (local.set $p (i32.add (local.get $twoTop3) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx3))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx3))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy3))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range3) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange3) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode1) (i32.const 4)) (then 
          (local.set $p (i32.add (local.get $top2) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx2))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy2))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range2) (local.get $q)))))
          ) (else 
          (local.set $p (i32.add (local.get $top3) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx3))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy3))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range3) (local.get $q)))))
          ))))))))
          (local.set $allowance (f64x2.sub (f64x2.mul (local.get $share1) (local.get $spread)) (local.get $sigma)))
          (local.set $allowance (v128.bitselect (local.get $zero) (local.get $allowance)
            (f64x2.lt (local.get $allowance) (local.get $zero))))
          (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
          (local.set $e (v128.bitselect (f64x2.sub (local.get $d) (local.get $allowance))
            (v128.bitselect (f64x2.add (local.get $d) (local.get $allowance)) (local.get $zero)
              (f64x2.lt (local.get $d) (f64x2.neg (local.get $allowance))))
            (f64x2.gt (local.get $d) (local.get $allowance))))
          (local.set $mag (v128.bitselect (f64x2.neg (local.get $e)) (local.get $e) (f64x2.lt (local.get $e) (local.get $zero))))
          (local.set $c1 (f64x2.lt (local.get $mag) (local.get $best)))
          (local.set $c2 (v128.andnot (f64x2.lt (local.get $mag) (local.get $second)) (local.get $c1)))
          (local.set $second (v128.bitselect (local.get $best)
            (v128.bitselect (local.get $mag) (local.get $second) (local.get $c2)) (local.get $c1)))
          (local.set $secondSigned (v128.bitselect (local.get $bestSigned)
            (v128.bitselect (local.get $e) (local.get $secondSigned) (local.get $c2)) (local.get $c1)))
          (local.set $best (v128.bitselect (local.get $mag) (local.get $best) (local.get $c1)))
          (local.set $bestSigned (v128.bitselect (local.get $e) (local.get $bestSigned) (local.get $c1)))
          ;; The veto's bookkeeping (edgePixel): the pairs' smallest, the one-sided d and allowance.
          (if (local.get $veto) (then
            (if (i32.eq (local.get $mode1) (i32.const 1))
              (then
                (local.set $c1 (f64x2.lt (local.get $mag) (local.get $pairBest)))
                (local.set $pairBestSigned (v128.bitselect (local.get $e) (local.get $pairBestSigned) (local.get $c1)))
                (local.set $pairBest (v128.bitselect (local.get $mag) (local.get $pairBest) (local.get $c1))))
              (else
                (local.set $oneD (local.get $d))
                (local.set $oneA (local.get $allowance))))))))
        ;; Direction 2 (shifts 4 and 5): mode 1 pair, 2 / 3 extrapolated from shift 4 / 5,
        ;; 4 / 5 that single die, 0 none.
        (if (local.get $mode2) (then
          (if (i32.eq (local.get $mode2) (i32.const 1)) (then 
          (local.set $p (i32.add (local.get $top4) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy4))))
          (local.set $p (i32.add (local.get $top5) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy5))))
          (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (local.get $near) (local.get $far))))
          (local.set $spread (f64x2.pmax (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range4) (local.get $q)))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range5) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode2) (i32.const 2)) (then 
          (local.set $p (i32.add (local.get $top4) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy4))))
          (local.set $p (i32.add (local.get $twoTop4) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx4))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx4))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy4))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range4) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange4) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode2) (i32.const 3)) (then 
          (local.set $p (i32.add (local.get $top5) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy5))))
          (local.set $p (i32.add (local.get $twoTop5) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx5))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx5))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy5))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range5) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange5) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode2) (i32.const 4)) (then 
          (local.set $p (i32.add (local.get $top4) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx4))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy4))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range4) (local.get $q)))))
          ) (else 
          (local.set $p (i32.add (local.get $top5) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx5))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy5))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range5) (local.get $q)))))
          ))))))))
          (local.set $allowance (f64x2.sub (f64x2.mul (local.get $share2) (local.get $spread)) (local.get $sigma)))
          (local.set $allowance (v128.bitselect (local.get $zero) (local.get $allowance)
            (f64x2.lt (local.get $allowance) (local.get $zero))))
          (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
          (local.set $e (v128.bitselect (f64x2.sub (local.get $d) (local.get $allowance))
            (v128.bitselect (f64x2.add (local.get $d) (local.get $allowance)) (local.get $zero)
              (f64x2.lt (local.get $d) (f64x2.neg (local.get $allowance))))
            (f64x2.gt (local.get $d) (local.get $allowance))))
          (local.set $mag (v128.bitselect (f64x2.neg (local.get $e)) (local.get $e) (f64x2.lt (local.get $e) (local.get $zero))))
          (local.set $c1 (f64x2.lt (local.get $mag) (local.get $best)))
          (local.set $c2 (v128.andnot (f64x2.lt (local.get $mag) (local.get $second)) (local.get $c1)))
          (local.set $second (v128.bitselect (local.get $best)
            (v128.bitselect (local.get $mag) (local.get $second) (local.get $c2)) (local.get $c1)))
          (local.set $secondSigned (v128.bitselect (local.get $bestSigned)
            (v128.bitselect (local.get $e) (local.get $secondSigned) (local.get $c2)) (local.get $c1)))
          (local.set $best (v128.bitselect (local.get $mag) (local.get $best) (local.get $c1)))
          (local.set $bestSigned (v128.bitselect (local.get $e) (local.get $bestSigned) (local.get $c1)))
          ;; The veto's bookkeeping (edgePixel): the pairs' smallest, the one-sided d and allowance.
          (if (local.get $veto) (then
            (if (i32.eq (local.get $mode2) (i32.const 1))
              (then
                (local.set $c1 (f64x2.lt (local.get $mag) (local.get $pairBest)))
                (local.set $pairBestSigned (v128.bitselect (local.get $e) (local.get $pairBestSigned) (local.get $c1)))
                (local.set $pairBest (v128.bitselect (local.get $mag) (local.get $pairBest) (local.get $c1))))
              (else
                (local.set $oneD (local.get $d))
                (local.set $oneA (local.get $allowance))))))))
        ;; Direction 3 (shifts 6 and 7): mode 1 pair, 2 / 3 extrapolated from shift 6 / 7,
        ;; 4 / 5 that single die, 0 none.
        (if (local.get $mode3) (then
          (if (i32.eq (local.get $mode3) (i32.const 1)) (then 
          (local.set $p (i32.add (local.get $top6) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy6))))
          (local.set $p (i32.add (local.get $top7) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy7))))
          (local.set $ref (f64x2.mul (local.get $half) (f64x2.add (local.get $near) (local.get $far))))
          (local.set $spread (f64x2.pmax (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range6) (local.get $q)))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range7) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode3) (i32.const 2)) (then 
          (local.set $p (i32.add (local.get $top6) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy6))))
          (local.set $p (i32.add (local.get $twoTop6) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx6))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx6))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy6))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range6) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange6) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode3) (i32.const 3)) (then 
          (local.set $p (i32.add (local.get $top7) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $near (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy7))))
          (local.set $p (i32.add (local.get $twoTop7) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx7))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $twoFx7))))
          (local.set $far (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $twoFy7))))
          (local.set $ref (f64x2.sub (f64x2.mul (local.get $two) (local.get $near)) (local.get $far)))
          (local.set $spread (f64x2.add (f64x2.mul (local.get $two) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range7) (local.get $q))))) (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $twoRange7) (local.get $q))))))
          ) (else (if (i32.eq (local.get $mode3) (i32.const 4)) (then 
          (local.set $p (i32.add (local.get $top6) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx6))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy6))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range6) (local.get $q)))))
          ) (else 
          (local.set $p (i32.add (local.get $top7) (local.get $q)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $upper (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
          (local.set $left (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
          (local.set $lower (f64x2.add (local.get $left) (f64x2.mul (f64x2.sub
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (local.get $p))) (local.get $left)) (local.get $fx7))))
          (local.set $ref (f64x2.add (local.get $upper) (f64x2.mul (f64x2.sub (local.get $lower) (local.get $upper)) (local.get $fy7))))
          (local.set $spread (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $range7) (local.get $q)))))
          ))))))))
          (local.set $allowance (f64x2.sub (f64x2.mul (local.get $share3) (local.get $spread)) (local.get $sigma)))
          (local.set $allowance (v128.bitselect (local.get $zero) (local.get $allowance)
            (f64x2.lt (local.get $allowance) (local.get $zero))))
          (local.set $d (f64x2.sub (local.get $v) (local.get $ref)))
          (local.set $e (v128.bitselect (f64x2.sub (local.get $d) (local.get $allowance))
            (v128.bitselect (f64x2.add (local.get $d) (local.get $allowance)) (local.get $zero)
              (f64x2.lt (local.get $d) (f64x2.neg (local.get $allowance))))
            (f64x2.gt (local.get $d) (local.get $allowance))))
          (local.set $mag (v128.bitselect (f64x2.neg (local.get $e)) (local.get $e) (f64x2.lt (local.get $e) (local.get $zero))))
          (local.set $c1 (f64x2.lt (local.get $mag) (local.get $best)))
          (local.set $c2 (v128.andnot (f64x2.lt (local.get $mag) (local.get $second)) (local.get $c1)))
          (local.set $second (v128.bitselect (local.get $best)
            (v128.bitselect (local.get $mag) (local.get $second) (local.get $c2)) (local.get $c1)))
          (local.set $secondSigned (v128.bitselect (local.get $bestSigned)
            (v128.bitselect (local.get $e) (local.get $secondSigned) (local.get $c2)) (local.get $c1)))
          (local.set $best (v128.bitselect (local.get $mag) (local.get $best) (local.get $c1)))
          (local.set $bestSigned (v128.bitselect (local.get $e) (local.get $bestSigned) (local.get $c1)))
          ;; The veto's bookkeeping (edgePixel): the pairs' smallest, the one-sided d and allowance.
          (if (local.get $veto) (then
            (if (i32.eq (local.get $mode3) (i32.const 1))
              (then
                (local.set $c1 (f64x2.lt (local.get $mag) (local.get $pairBest)))
                (local.set $pairBestSigned (v128.bitselect (local.get $e) (local.get $pairBestSigned) (local.get $c1)))
                (local.set $pairBest (v128.bitselect (local.get $mag) (local.get $pairBest) (local.get $c1))))
              (else
                (local.set $oneD (local.get $d))
                (local.set $oneA (local.get $allowance))))))))
        (v128.store64_lane 0 (i32.add (local.get $outBase) (local.get $q))
          (f32x4.demote_f64x2_zero
            (select (local.get $secondSigned)
              ;; With the veto: where the one-sided comparison allows both 0 and the pairs' value
              ;; (vetoAbstains: |d| <= allowance and |d - pairs'| <= allowance), the pairs' smallest.
              (select
                (v128.bitselect (local.get $pairBestSigned) (local.get $bestSigned)
                  (v128.and
                    (f64x2.le (f64x2.abs (local.get $oneD)) (local.get $oneA))
                    (f64x2.le (f64x2.abs (f64x2.sub (local.get $oneD) (local.get $pairBestSigned))) (local.get $oneA))))
                (local.get $bestSigned) (local.get $veto))
              (local.get $useSecond))))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (br $pixels))))

  ;; One whole row of the residual (dieToDieResidual's row loop with the kernel): pixels
  ;; x0..x1 of the row starting at map index `base`. The pixels runFrom..runTo have all eight
  ;; references on the wafer (`interior`); the rest is the rim ring, which falls into segments
  ;; of one set of references each: along a row that set changes only where some shift's run
  ;; [lower, upper] (one die away) or [lower2, upper2] (two dies away) starts or ends, so the
  ;; row is cut there (cuts sorted in place), and per segment, edgePixel's choice at its first
  ;; pixel (pair, two-die extrapolation, single die, none, per direction) goes to `edge`.
  ;; Writes, at x: the residual (float32) to outPtr + 4x, the edge mask (0 interior, 1 ring) to
  ;; maskPtr + x and the edge gain (the table at 576, indexed by the segment's kinds) to
  ;; gainPtr + x. Segments go left to right, so what one writes past its end (the kernels
  ;; work in pairs, the fills in blocks) is written again by the next; past x1 the caller
  ;; pads and does not read.
  (func (export "row")
    (param $dataPtr i32) (param $ringPtr i32) (param $outPtr i32) (param $maskPtr i32)
    (param $gainPtr i32) (param $width i32) (param $base i32) (param $x0 i32) (param $x1 i32)
    (param $runFrom i32) (param $runTo i32) (param $rowsPtr i32)
    (local $n i32) (local $k i32) (local $i i32) (local $j i32) (local $key i32)
    (local $from i32) (local $to i32) (local $hasRun i32)
    (local $code i32) (local $count i32) (local $plus i32) (local $minus i32) (local $slot i32)
    (local $far i32) (local $mode i32) (local $kind i32) (local $d i32)
    (local $pairs i32) (local $chosen i32)
    (local.set $hasRun (i32.le_s (local.get $runFrom) (local.get $runTo)))
    ;; The cuts (at 832): the row's ends, the interior run's, and each shift's run's.
    (i32.store offset=832 (i32.const 0) (local.get $x0))
    (i32.store offset=836 (i32.const 0) (i32.add (local.get $x1) (i32.const 1)))
    (local.set $n (i32.const 2))
    (if (local.get $hasRun) (then
      (i32.store offset=840 (i32.const 0) (local.get $runFrom))
      (i32.store offset=844 (i32.const 0) (i32.add (local.get $runTo) (i32.const 1)))
      (local.set $n (i32.const 4))))
    (local.set $k (i32.const 0))
    (loop $shifts
      (local.set $i (i32.shl (local.get $k) (i32.const 2)))
      (local.set $j (i32.shl (local.get $n) (i32.const 2)))
      (i32.store offset=832 (local.get $j) (i32.load offset=448 (local.get $i)))
      (i32.store offset=836 (local.get $j) (i32.add (i32.load offset=480 (local.get $i)) (i32.const 1)))
      (i32.store offset=840 (local.get $j) (i32.load offset=512 (local.get $i)))
      (i32.store offset=844 (local.get $j) (i32.add (i32.load offset=544 (local.get $i)) (i32.const 1)))
      (local.set $n (i32.add (local.get $n) (i32.const 4)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $shifts (i32.lt_u (local.get $k) (i32.const 8))))
    ;; Insertion sort, ascending (signed: a run that starts left of the frame is negative).
    (local.set $i (i32.const 1))
    (block $sorted
      (loop $insert
        (br_if $sorted (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $key (i32.load offset=832 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $j (local.get $i))
        (block $placed
          (loop $shift
            (br_if $placed (i32.eqz (local.get $j)))
            (br_if $placed (i32.le_s
              (i32.load offset=828 (i32.shl (local.get $j) (i32.const 2))) (local.get $key)))
            (i32.store offset=832 (i32.shl (local.get $j) (i32.const 2))
              (i32.load offset=828 (i32.shl (local.get $j) (i32.const 2))))
            (local.set $j (i32.sub (local.get $j) (i32.const 1)))
            (br $shift)))
        (i32.store offset=832 (i32.shl (local.get $j) (i32.const 2)) (local.get $key))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $insert)))
    ;; Each segment [from, to) between two cuts, clipped to the row.
    (local.set $i (i32.const 0))
    (block $segmentsDone
      (loop $segments
        (br_if $segmentsDone (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
        (local.set $from (i32.load offset=832 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $to (i32.load offset=836 (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.lt_s (local.get $from) (local.get $x0)) (then (local.set $from (local.get $x0))))
        (if (i32.gt_s (local.get $to) (i32.add (local.get $x1) (i32.const 1)))
          (then (local.set $to (i32.add (local.get $x1) (i32.const 1)))))
        (if (i32.lt_s (local.get $from) (local.get $to)) (then
          (if (i32.and (local.get $hasRun) (i32.and
                (i32.ge_s (local.get $from) (local.get $runFrom))
                (i32.le_s (local.get $from) (local.get $runTo))))
            (then
              ;; Inside the interior run: the whole run once, at its first segment.
              (if (i32.eq (local.get $from) (local.get $runFrom)) (then
                (call $interior (local.get $dataPtr) (local.get $ringPtr)
                  (i32.add (local.get $outPtr) (i32.shl (local.get $runFrom) (i32.const 2)))
                  (local.get $width)
                  (i32.add (local.get $base) (local.get $runFrom))
                  (i32.add (local.get $base) (local.get $runTo))
                  (local.get $base) (local.get $rowsPtr))
                (call $fillBytes (local.get $maskPtr) (local.get $runFrom)
                  (i32.add (local.get $runTo) (i32.const 1)) (i32.const 0))
                ;; EDGE_GAIN_UNIT: a gain of 1.
                (call $fillBytes (local.get $gainPtr) (local.get $runFrom)
                  (i32.add (local.get $runTo) (i32.const 1)) (i32.const 32)))))
            (else
              ;; edgePixel's choice of references at `from`, per direction d (shifts 2d, 2d + 1):
              ;; mode (as `edge` takes it) to 976 + 4d, kind (0 none, 1 pair, 2 extrapolated,
              ;; 3 single) into the table index.
              (local.set $code (i32.const 0))
              (local.set $count (i32.const 0))
              (local.set $d (i32.const 0))
              (loop $directions
                (local.set $k (i32.shl (local.get $d) (i32.const 3)))
                (local.set $plus (i32.and
                  (i32.ge_s (local.get $from) (i32.load offset=448 (local.get $k)))
                  (i32.le_s (local.get $from) (i32.load offset=480 (local.get $k)))))
                (local.set $minus (i32.and
                  (i32.ge_s (local.get $from) (i32.load offset=452 (local.get $k)))
                  (i32.le_s (local.get $from) (i32.load offset=484 (local.get $k)))))
                (if (i32.and (local.get $plus) (local.get $minus))
                  (then (local.set $mode (i32.const 1)) (local.set $kind (i32.const 1)))
                  (else (if (i32.or (local.get $plus) (local.get $minus))
                    (then
                      (local.set $slot (i32.add (local.get $k) (select (i32.const 0) (i32.const 4) (local.get $plus))))
                      (local.set $far (i32.and
                        (i32.ge_s (local.get $from) (i32.load offset=512 (local.get $slot)))
                        (i32.le_s (local.get $from) (i32.load offset=544 (local.get $slot)))))
                      (local.set $mode (i32.add
                        (select (i32.const 2) (i32.const 4) (local.get $far))
                        (select (i32.const 0) (i32.const 1) (local.get $plus))))
                      (local.set $kind (select (i32.const 2) (i32.const 3) (local.get $far))))
                    (else (local.set $mode (i32.const 0)) (local.set $kind (i32.const 0))))))
                (i32.store offset=976 (i32.shl (local.get $d) (i32.const 2)) (local.get $mode))
                (local.set $code (i32.or (local.get $code)
                  (i32.shl (local.get $kind) (i32.shl (local.get $d) (i32.const 1)))))
                (local.set $count (i32.add (local.get $count) (i32.ne (local.get $kind) (i32.const 0))))
                (local.set $d (i32.add (local.get $d) (i32.const 1)))
                (br_if $directions (i32.lt_u (local.get $d) (i32.const 4))))
              ;; rimRingDirections' choice (die-to-die-rim-ring.ts): where two or three pairs are
              ;; left on the wafer, the pairs and the first direction with a two-die
              ;; extrapolation (else the first with a single die); the dropped
              ;; directions' modes become 0, and the code and count are those of what is kept
              ;; (with two pairs the code leaves the one-sided veto out: the gain is the pairs').
              (local.set $pairs (i32.const 0))
              (local.set $d (i32.const 0))
              (loop $countPairs
                (local.set $pairs (i32.add (local.get $pairs)
                  (i32.eq (i32.load offset=976 (i32.shl (local.get $d) (i32.const 2))) (i32.const 1))))
                (local.set $d (i32.add (local.get $d) (i32.const 1)))
                (br_if $countPairs (i32.lt_u (local.get $d) (i32.const 4))))
              (if (i32.ge_u (local.get $pairs) (i32.const 2)) (then
                (local.set $chosen (i32.const -1))
                ;; The first one-sided direction: extrapolated first, then a single die.
                (if (i32.ge_u (local.get $pairs) (i32.const 2)) (then
                  ;; Modes 2 / 3: extrapolated; then modes 4 / 5: a single die.
                  (local.set $kind (i32.const 2))
                  (loop $kinds
                    (local.set $d (i32.const 0))
                    (loop $pick
                      (local.set $mode (i32.load offset=976 (i32.shl (local.get $d) (i32.const 2))))
                      (if (i32.and (i32.lt_s (local.get $chosen) (i32.const 0))
                            (i32.or (i32.eq (local.get $mode) (local.get $kind))
                              (i32.eq (local.get $mode) (i32.add (local.get $kind) (i32.const 1)))))
                        (then (local.set $chosen (local.get $d))))
                      (local.set $d (i32.add (local.get $d) (i32.const 1)))
                      (br_if $pick (i32.lt_u (local.get $d) (i32.const 4))))
                    (local.set $kind (i32.add (local.get $kind) (i32.const 2)))
                    (br_if $kinds (i32.le_u (local.get $kind) (i32.const 4))))))
                (local.set $code (i32.const 0))
                (local.set $count (i32.const 0))
                (local.set $d (i32.const 0))
                (loop $keep
                  (local.set $mode (i32.load offset=976 (i32.shl (local.get $d) (i32.const 2))))
                  (if (i32.and (i32.ne (local.get $mode) (i32.const 1))
                        (i32.ne (local.get $d) (local.get $chosen)))
                    (then (local.set $mode (i32.const 0))))
                  (i32.store offset=976 (i32.shl (local.get $d) (i32.const 2)) (local.get $mode))
                  ;; Kind from mode: 0 none, 1 pair, 2 / 3 extrapolated, 4 / 5 single.
                  (local.set $kind (select (i32.const 0)
                    (select (i32.const 1)
                      (select (i32.const 2) (i32.const 3) (i32.le_u (local.get $mode) (i32.const 3)))
                      (i32.eq (local.get $mode) (i32.const 1)))
                    (i32.eqz (local.get $mode))))
                  (if (i32.or (i32.ne (local.get $pairs) (i32.const 2)) (i32.eq (local.get $kind) (i32.const 1)))
                    (then (local.set $code (i32.or (local.get $code)
                      (i32.shl (local.get $kind) (i32.shl (local.get $d) (i32.const 1)))))))
                  (local.set $count (i32.add (local.get $count) (i32.ne (local.get $kind) (i32.const 0))))
                  (local.set $d (i32.add (local.get $d) (i32.const 1)))
                  (br_if $keep (i32.lt_u (local.get $d) (i32.const 4))))))
              (if (local.get $count)
                (then
                  (call $edge (local.get $dataPtr) (local.get $ringPtr)
                    (i32.add (local.get $outPtr) (i32.shl (local.get $from) (i32.const 2)))
                    (local.get $width)
                    (i32.add (local.get $base) (local.get $from))
                    (i32.sub (i32.add (local.get $base) (local.get $to)) (i32.const 1))
                    (i32.load offset=976 (i32.const 0)) (i32.load offset=980 (i32.const 0))
                    (i32.load offset=984 (i32.const 0)) (i32.load offset=988 (i32.const 0))
                    ;; Two pairs and their veto: all three must exceed (the smallest).
                    (i32.and (i32.ge_u (local.get $count) (i32.const 3))
                      (i32.ne (local.get $pairs) (i32.const 2)))
                    ;; ... unless the veto abstains.
                    (i32.and (i32.ge_u (local.get $count) (i32.const 3))
                      (i32.eq (local.get $pairs) (i32.const 2)))
                    ;; Two or more pairs decide: an extrapolation forgives its own share.
                    (i32.ge_u (local.get $pairs) (i32.const 2))))
                (else
                  ;; No reference: +0, as edgePixel writes.
                  (local.set $j (local.get $from))
                  (loop $zeros
                    (v128.store (i32.add (local.get $outPtr) (i32.shl (local.get $j) (i32.const 2)))
                      (v128.const i32x4 0 0 0 0))
                    (local.set $j (i32.add (local.get $j) (i32.const 4)))
                    (br_if $zeros (i32.lt_s (local.get $j) (local.get $to))))))
              (call $fillBytes (local.get $maskPtr) (local.get $from) (local.get $to) (i32.const 1))
              (call $fillBytes (local.get $gainPtr) (local.get $from) (local.get $to)
                (i32.load8_u offset=576 (local.get $code)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $segments))))

  ;; Bytes ptr + from .. ptr + to - 1 set to `value`, sixteen at a time (up to 15 past `to`).
  (func $fillBytes (param $ptr i32) (param $from i32) (param $to i32) (param $value i32)
    (local $fill v128)
    (local.set $fill (i8x16.splat (local.get $value)))
    (loop $blocks
      (v128.store (i32.add (local.get $ptr) (local.get $from)) (local.get $fill))
      (local.set $from (i32.add (local.get $from) (i32.const 16)))
      (br_if $blocks (i32.lt_s (local.get $from) (local.get $to)))))

  ;; 1 when the count float32 values from ptr are all finite (no NaN, no infinity), else 0:
  ;; whether `interior` may run on the map. The exponent bits all ones mark the non-finite
  ;; ones; four values at a time, then the last few one by one.
  (func (export "allFinite") (param $ptr i32) (param $count i32) (result i32)
    (local $i i32) (local $vectorEnd i32) (local $end i32) (local $exponent v128) (local $seen v128)
    (local $nonFinite i32)
    (local.set $exponent (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (local.set $vectorEnd (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $seen (v128.or (local.get $seen) (i32x4.eq
          (v128.and (v128.load (i32.add (local.get $ptr) (local.get $i))) (local.get $exponent))
          (local.get $exponent))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (local.set $nonFinite (v128.any_true (local.get $seen)))
    (block $scalarsDone
      (loop $scalars
        (br_if $scalarsDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $nonFinite (i32.or (local.get $nonFinite) (i32.eq
          (i32.and (i32.load (i32.add (local.get $ptr) (local.get $i))) (i32.const 0x7f800000))
          (i32.const 0x7f800000))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalars)))
    (i32.eqz (local.get $nonFinite)))

  ;; The row's pixels x0..x1 (float32 at rowPtr + 4x) whose magnitude is at least `limit`
  ;; (a float32 at or below the caller's double limit, so every value that reaches the double
  ;; limit is listed; NaN never is), as map indices base + x, ascending, to listPtr; returns
  ;; how many. Four values at a time (the last group's lanes past x1 masked off; the row is
  ;; padded, so the load stays inside it).
  (func (export "listAtLeast")
    (param $rowPtr i32) (param $x0 i32) (param $x1 i32) (param $limit f32) (param $base i32)
    (param $listPtr i32) (result i32)
    (local $x i32) (local $n i32) (local $bound v128) (local $bits i32) (local $left i32)
    (local.set $bound (f32x4.splat (local.get $limit)))
    (local.set $x (local.get $x0))
    (block $done
      (loop $groups
        (br_if $done (i32.gt_s (local.get $x) (local.get $x1)))
        (local.set $bits (i32x4.bitmask (f32x4.ge
          (f32x4.abs (v128.load (i32.add (local.get $rowPtr) (i32.shl (local.get $x) (i32.const 2)))))
          (local.get $bound))))
        ;; Lanes past x1: off.
        (local.set $left (i32.sub (local.get $x1) (local.get $x)))
        (if (i32.lt_s (local.get $left) (i32.const 3)) (then
          (local.set $bits (i32.and (local.get $bits)
            (i32.sub (i32.shl (i32.const 1) (i32.add (local.get $left) (i32.const 1))) (i32.const 1))))))
        (block $lanesDone
          (loop $lanes
            (br_if $lanesDone (i32.eqz (local.get $bits)))
            (i32.store (i32.add (local.get $listPtr) (i32.shl (local.get $n) (i32.const 2)))
              (i32.add (i32.add (local.get $base) (local.get $x)) (i32.ctz (local.get $bits))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
            (br $lanes)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $groups)))
    (local.get $n))

  ;; raster.ts binomialBlur3's horizontal pass on one row: 0.25 * (left + right) + 0.5 * centre
  ;; in doubles, rounded to float32, the end pixels replicated. Two pixels at a time inside.
  (func (export "blurRow") (param $src i32) (param $dst i32) (param $width i32)
    (local $i i32) (local $end i32) (local $quarter v128) (local $half v128)
    (local.set $quarter (f64x2.splat (f64.const 0.25)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    ;; The ends (one pixel when the row has one): the outer neighbour is the pixel itself.
    (f32.store (local.get $dst) (f32.demote_f64 (f64.add
      (f64.mul (f64.const 0.25) (f64.add (f64.promote_f32 (f32.load (local.get $src)))
        (f64.promote_f32 (f32.load (i32.add (local.get $src)
          (i32.shl (select (i32.const 1) (i32.const 0) (i32.gt_s (local.get $width) (i32.const 1))) (i32.const 2)))))))
      (f64.mul (f64.const 0.5) (f64.promote_f32 (f32.load (local.get $src)))))))
    (if (i32.gt_s (local.get $width) (i32.const 1)) (then
      (local.set $i (i32.shl (i32.sub (local.get $width) (i32.const 1)) (i32.const 2)))
      (f32.store (i32.add (local.get $dst) (local.get $i)) (f32.demote_f64 (f64.add
        (f64.mul (f64.const 0.25) (f64.add
          (f64.promote_f32 (f32.load (i32.sub (i32.add (local.get $src) (local.get $i)) (i32.const 4))))
          (f64.promote_f32 (f32.load (i32.add (local.get $src) (local.get $i))))))
        (f64.mul (f64.const 0.5) (f64.promote_f32 (f32.load (i32.add (local.get $src) (local.get $i))))))))))
    ;; Pixels 1 .. width - 2: pairs, then one left over.
    (local.set $i (i32.const 4))
    (local.set $end (i32.shl (i32.sub (local.get $width) (i32.const 2)) (i32.const 2)))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.ge_s (local.get $i) (local.get $end)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (local.get $i))
          (f32x4.demote_f64x2_zero (f64x2.add
            (f64x2.mul (local.get $quarter) (f64x2.add
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.sub (i32.add (local.get $src) (local.get $i)) (i32.const 4))))
              (f64x2.promote_low_f32x4 (v128.load64_zero offset=4 (i32.add (local.get $src) (local.get $i))))))
            (f64x2.mul (local.get $half)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $src) (local.get $i))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $pairs)))
    (if (i32.eq (local.get $i) (local.get $end)) (then
      (f32.store (i32.add (local.get $dst) (local.get $i)) (f32.demote_f64 (f64.add
        (f64.mul (f64.const 0.25) (f64.add
          (f64.promote_f32 (f32.load (i32.sub (i32.add (local.get $src) (local.get $i)) (i32.const 4))))
          (f64.promote_f32 (f32.load offset=4 (i32.add (local.get $src) (local.get $i))))))
        (f64.mul (f64.const 0.5) (f64.promote_f32 (f32.load (i32.add (local.get $src) (local.get $i))))))))))
  )

  ;; binomialBlur3's vertical pass on one row: 0.25 * (above + below) + 0.5 * current, in
  ;; doubles, rounded to float32. Two pixels at a time, then one left over.
  (func (export "blurColumns")
    (param $above i32) (param $current i32) (param $below i32) (param $dst i32) (param $width i32)
    (local $i i32) (local $end i32) (local $quarter v128) (local $half v128)
    (local.set $quarter (f64x2.splat (f64.const 0.25)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $end (i32.shl (i32.and (local.get $width) (i32.const -2)) (i32.const 2)))
    (block $pairsDone
      (loop $pairs
        (br_if $pairsDone (i32.ge_u (local.get $i) (local.get $end)))
        (v128.store64_lane 0 (i32.add (local.get $dst) (local.get $i))
          (f32x4.demote_f64x2_zero (f64x2.add
            (f64x2.mul (local.get $quarter) (f64x2.add
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $above) (local.get $i))))
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $below) (local.get $i))))))
            (f64x2.mul (local.get $half)
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $current) (local.get $i))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $pairs)))
    (if (i32.and (local.get $width) (i32.const 1)) (then
      (f32.store (i32.add (local.get $dst) (local.get $i)) (f32.demote_f64 (f64.add
        (f64.mul (f64.const 0.25) (f64.add
          (f64.promote_f32 (f32.load (i32.add (local.get $above) (local.get $i))))
          (f64.promote_f32 (f32.load (i32.add (local.get $below) (local.get $i))))))
        (f64.mul (f64.const 0.5) (f64.promote_f32 (f32.load (i32.add (local.get $current) (local.get $i))))))))))
  )

  ;; The pattern activity's 3x3 max and min (threshold-activity.ts), in two separable passes over flat
  ;; pixel indices (as range3x3 reads them, a row's ends neighbour the next row's): rangeRow
  ;; takes max and min of src[x], src[x + 1], src[x + 2] for x = 0 .. width - 1 (src starts one
  ;; pixel before the row), rangeColumns those of three such rows. Four pixels per
  ;; instruction; up to three values past a row are written (the caller pads).
  ;; Max and min are pmax / pmin (a < b ? b : a, b < a ? b : a: one instruction each on x64,
  ;; where f32x4.max / min are a NaN- and signed-zero-aware sequence of several). Without NaN
  ;; the two differ only in which zero they pick among zeros of both signs, and max - min does
  ;; not see it: where the nine values are not all zeros, a zero max (min) is subtracted from
  ;; (subtracts) a nonzero value, the same for either zero; where all nine are zeros, pmax and
  ;; pmin keep their first operand on a tie in both trees (the same shape), so max and min are
  ;; the same value and max - min is +0, what f32x4.max / min give (+0 - -0). pmax / pmin may
  ;; drop a NaN, so rangeRow returns 0 when any value it reads (src[0 .. width + 1], in $a and
  ;; $c; the padding past it is finite) is NaN, else 1: the caller then keeps no map.
  (func (export "rangeRow") (param $src i32) (param $hi i32) (param $lo i32) (param $width i32)
    (result i32)
    (local $i i32) (local $end i32) (local $a v128) (local $b v128) (local $c v128)
    (local $ordered v128)
    (local.set $end (i32.shl (local.get $width) (i32.const 2)))
    (local.set $ordered (i32x4.splat (i32.const -1)))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $a (v128.load (i32.add (local.get $src) (local.get $i))))
        (local.set $b (v128.load offset=4 (i32.add (local.get $src) (local.get $i))))
        (local.set $c (v128.load offset=8 (i32.add (local.get $src) (local.get $i))))
        (local.set $ordered (v128.and (local.get $ordered) (v128.and
          (f32x4.eq (local.get $a) (local.get $a)) (f32x4.eq (local.get $c) (local.get $c)))))
        (v128.store (i32.add (local.get $hi) (local.get $i))
          (f32x4.pmax (f32x4.pmax (local.get $a) (local.get $b)) (local.get $c)))
        (v128.store (i32.add (local.get $lo) (local.get $i))
          (f32x4.pmin (f32x4.pmin (local.get $a) (local.get $b)) (local.get $c)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $pixels)))
    (i32x4.all_true (local.get $ordered)))

  ;; rangeColumns writes range = max - min in float32 and returns 1 when, at every pixel,
  ;; that float32 equals the double max - min (what range3x3 returns), else 0. Its rows come
  ;; from rangeRow, NaN-free when it returned 1: pmax / pmin as there.
  (func (export "rangeColumns")
    (param $hiAbove i32) (param $hiCurrent i32) (param $hiBelow i32)
    (param $loAbove i32) (param $loCurrent i32) (param $loBelow i32)
    (param $range i32) (param $width i32) (result i32)
    (local $i i32) (local $end i32) (local $hi v128) (local $lo v128) (local $d v128)
    (local $same v128)
    (local.set $end (i32.shl (local.get $width) (i32.const 2)))
    (local.set $same (i32x4.splat (i32.const -1)))
    (block $done
      (loop $pixels
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $hi (f32x4.pmax (f32x4.pmax (v128.load (i32.add (local.get $hiAbove) (local.get $i)))
          (v128.load (i32.add (local.get $hiCurrent) (local.get $i))))
          (v128.load (i32.add (local.get $hiBelow) (local.get $i)))))
        (local.set $lo (f32x4.pmin (f32x4.pmin (v128.load (i32.add (local.get $loAbove) (local.get $i)))
          (v128.load (i32.add (local.get $loCurrent) (local.get $i))))
          (v128.load (i32.add (local.get $loBelow) (local.get $i)))))
        (local.set $d (f32x4.sub (local.get $hi) (local.get $lo)))
        (v128.store (i32.add (local.get $range) (local.get $i)) (local.get $d))
        ;; Lanes 0 and 1, then 2 and 3, in doubles (pixels past the row compare too: the
        ;; caller's padding holds finite values, so only a real inexact pixel clears it).
        (local.set $same (v128.and (local.get $same) (f64x2.eq
          (f64x2.sub (f64x2.promote_low_f32x4 (local.get $hi)) (f64x2.promote_low_f32x4 (local.get $lo)))
          (f64x2.promote_low_f32x4 (local.get $d)))))
        (local.set $same (v128.and (local.get $same) (f64x2.eq
          (f64x2.sub
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $hi) (local.get $hi)))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $lo) (local.get $lo))))
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $d) (local.get $d))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $pixels)))
    (i64x2.all_true (local.get $same)))

  ;; One row of 2x2 cell ranges: count cells from the top-left pixel at byte address `top`
  ;; (the row below is `width` pixels on), max - min of each cell's four values, to `into`.
  ;; Reads one column past the last cell, as cellRangeRow does.
  ;; On a map of finite values (the only kind the residual kernels get, see `allFinite`) the
  ;; vector part takes pmax / pmin (one instruction each, not the NaN- and signed-zero-aware
  ;; sequence of max / min): they can pick a -0 where Math.max picks +0 (or +0 for -0) only
  ;; among zeros, which changes max - min only when all four values are zeros, to -0 instead
  ;; of +0; adding +0 turns that -0 into +0 and leaves every other value as it is.
  (func (export "cellRanges")
    (param $top i32) (param $width i32) (param $into i32) (param $count i32)
    (local $bottom i32) (local $i i32) (local $vectorEnd i32) (local $end i32)
    (local $t0 v128) (local $t1 v128) (local $b0 v128) (local $b1 v128) (local $zero v128)
    (local $hi f32) (local $lo f32)
    (local.set $zero (v128.const f32x4 0 0 0 0))
    (local.set $bottom (i32.add (local.get $top) (i32.shl (local.get $width) (i32.const 2))))
    (local.set $vectorEnd (i32.shl (i32.and (local.get $count) (i32.const -4)) (i32.const 2)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $vectorsDone
      (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $i) (local.get $vectorEnd)))
        (local.set $t0 (v128.load (i32.add (local.get $top) (local.get $i))))
        (local.set $t1 (v128.load offset=4 (i32.add (local.get $top) (local.get $i))))
        (local.set $b0 (v128.load (i32.add (local.get $bottom) (local.get $i))))
        (local.set $b1 (v128.load offset=4 (i32.add (local.get $bottom) (local.get $i))))
        (v128.store (i32.add (local.get $into) (local.get $i))
          (f32x4.add (f32x4.sub
            (f32x4.pmax (f32x4.pmax (local.get $t0) (local.get $b0)) (f32x4.pmax (local.get $t1) (local.get $b1)))
            (f32x4.pmin (f32x4.pmin (local.get $t0) (local.get $b0)) (f32x4.pmin (local.get $t1) (local.get $b1))))
            (local.get $zero)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vectors)))
    (block $scalarsDone
      (loop $scalars
        (br_if $scalarsDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $hi (f32.max
          (f32.max (f32.load (i32.add (local.get $top) (local.get $i))) (f32.load (i32.add (local.get $bottom) (local.get $i))))
          (f32.max (f32.load offset=4 (i32.add (local.get $top) (local.get $i))) (f32.load offset=4 (i32.add (local.get $bottom) (local.get $i))))))
        (local.set $lo (f32.min
          (f32.min (f32.load (i32.add (local.get $top) (local.get $i))) (f32.load (i32.add (local.get $bottom) (local.get $i))))
          (f32.min (f32.load offset=4 (i32.add (local.get $top) (local.get $i))) (f32.load offset=4 (i32.add (local.get $bottom) (local.get $i))))))
        (f32.store (i32.add (local.get $into) (local.get $i)) (f32.sub (local.get $hi) (local.get $lo)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $scalars))))
;; The die-to-die noise estimate's two passes over its sampling grid (noise.ts,
  ;; estimateDieDifferenceNoise), on the smoothed map where the residual kernels read it.
  ;; The grid is tabled by the caller, all terms in pixels:
  ;;   per row r of samples, 11 i32 at rowsPtr + 44r: the row's index term (y * width), its +a
  ;;   and -a terms, its three +b terms, its three -b terms, and the first and last column of
  ;;   the row's samples inside the disk;
  ;;   per column c, 9 i32 at colsPtr + 36c: x, its +a and -a terms, three +b, three -b terms.
  ;; Pass 1: |D(p) - D(q)| of each sample in grid order, as f64 at outPtr, where
  ;; D(p) = p - 0.5 * (p(+a) + p(-a)) and q = p + lag, each one IEEE double operation on the
  ;; promoted float32 values in the JavaScript's order. Returns the count, or -1 when a value is
  ;; NaN (the caller then takes the JavaScript path, which keeps NaN's bits as it always did).
  (func (export "dieDifferences")
    (param $dataPtr i32) (param $lag i32) (param $rowsPtr i32) (param $nRows i32)
    (param $colsPtr i32) (param $outPtr i32) (result i32)
    (local $rec i32) (local $recEnd i32) (local $rowBase i32) (local $plusA i32) (local $minusA i32)
    (local $col i32) (local $colEnd i32) (local $p i32) (local $plus i32) (local $minus i32)
    (local $lagBytes i32) (local $o i32) (local $nan i32) (local $d f64)
    (local.set $lagBytes (i32.shl (local.get $lag) (i32.const 2)))
    (local.set $o (local.get $outPtr))
    (local.set $rec (local.get $rowsPtr))
    (local.set $recEnd (i32.add (local.get $rowsPtr) (i32.mul (local.get $nRows) (i32.const 44))))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $rec) (local.get $recEnd)))
        (local.set $rowBase (i32.load (local.get $rec)))
        (local.set $plusA (i32.load offset=4 (local.get $rec)))
        (local.set $minusA (i32.load offset=8 (local.get $rec)))
        (local.set $col (i32.add (local.get $colsPtr) (i32.mul (i32.load offset=36 (local.get $rec)) (i32.const 36))))
        (local.set $colEnd (i32.add (local.get $colsPtr) (i32.mul (i32.load offset=40 (local.get $rec)) (i32.const 36))))
        (block $columnsDone
          (loop $columns
            (br_if $columnsDone (i32.gt_s (local.get $col) (local.get $colEnd)))
            ;; Byte addresses of p and of its two references; q's are lagBytes further on.
            (local.set $p (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (local.get $rowBase) (i32.load (local.get $col))) (i32.const 2))))
            (local.set $plus (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (local.get $plusA) (i32.load offset=4 (local.get $col))) (i32.const 2))))
            (local.set $minus (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (local.get $minusA) (i32.load offset=8 (local.get $col))) (i32.const 2))))
            (local.set $d (f64.abs (f64.sub
              (f64.sub (f64.promote_f32 (f32.load (local.get $p)))
                (f64.mul (f64.const 0.5) (f64.add (f64.promote_f32 (f32.load (local.get $plus)))
                  (f64.promote_f32 (f32.load (local.get $minus))))))
              (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $p) (local.get $lagBytes))))
                (f64.mul (f64.const 0.5) (f64.add
                  (f64.promote_f32 (f32.load (i32.add (local.get $plus) (local.get $lagBytes))))
                  (f64.promote_f32 (f32.load (i32.add (local.get $minus) (local.get $lagBytes))))))))))
            (local.set $nan (i32.or (local.get $nan) (f64.ne (local.get $d) (local.get $d))))
            (f64.store (local.get $o) (local.get $d))
            (local.set $o (i32.add (local.get $o) (i32.const 8)))
            (local.set $col (i32.add (local.get $col) (i32.const 36)))
            (br $columns)))
        (local.set $rec (i32.add (local.get $rec) (i32.const 44)))
        (br $rows)))
    (if (result i32) (local.get $nan)
      (then (i32.const -1))
      (else (i32.shr_u (i32.sub (local.get $o) (local.get $outPtr)) (i32.const 3)))))

  ;; Pass 2: keeps, in place and in order, the differences (f64 at diffsPtr, pass 1's) of the
  ;; samples where at p and at q the 3x3 range of the dies at +b, or failing that at -b, is
  ;; <= gate; returns how many were kept. p and q go side by side in lanes 0 and 1.
  ;; The +b range of a sample is max - min of three column maxima and three column minima of the
  ;; row's three +b rows (the row's profile, at profilePtr: maxima, then minima `profileLength`
  ;; floats on; the same nine pixels, so the same max and min). max and min are f32x4.max / min
  ;; throughout: Math.max / Math.min of the promoted values (NaN kept, -0 below +0), any grouping
  ;; the same value. The JavaScript's profile takes comparisons where its row holds no NaN, which
  ;; can differ only in the sign of a zero max or min, and that leaves every range's comparison
  ;; with the gate as it was (the range is then the same value, or a zero of the other sign).
  ;; The ranges are max - min in double, compared with the gate in double, as the JavaScript does.
  ;; Profiles are built four columns at a time and may read three pixels past the row's last
  ;; column (the caller keeps room past the map).
  (func (export "dieDifferenceGate")
    (param $dataPtr i32) (param $lag i32) (param $rowsPtr i32) (param $nRows i32)
    (param $colsPtr i32) (param $diffsPtr i32) (param $profilePtr i32) (param $profileLength i32)
    (param $gate f64) (result i32)
    (local $rec i32) (local $recEnd i32) (local $col i32) (local $colEnd i32)
    (local $spanStart i32) (local $spanBytes i32) (local $x i32) (local $minPtr i32)
    (local $top i32) (local $middle i32) (local $bottom i32) (local $lagBytes i32)
    (local $read i32) (local $write i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $r0 i32) (local $r1 i32) (local $r2 i32)
    (local $t v128) (local $u v128) (local $v v128) (local $hi v128) (local $lo v128)
    (local $a v128) (local $b v128) (local $c v128) (local $pass v128) (local $gates v128)
    (local.set $gates (f64x2.splat (local.get $gate)))
    (local.set $lagBytes (i32.shl (local.get $lag) (i32.const 2)))
    (local.set $minPtr (i32.add (local.get $profilePtr) (i32.shl (local.get $profileLength) (i32.const 2))))
    (local.set $read (local.get $diffsPtr))
    (local.set $write (local.get $diffsPtr))
    (local.set $rec (local.get $rowsPtr))
    (local.set $recEnd (i32.add (local.get $rowsPtr) (i32.mul (local.get $nRows) (i32.const 44))))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $rec) (local.get $recEnd)))
        (local.set $col (i32.add (local.get $colsPtr) (i32.mul (i32.load offset=36 (local.get $rec)) (i32.const 36))))
        (local.set $colEnd (i32.add (local.get $colsPtr) (i32.mul (i32.load offset=40 (local.get $rec)) (i32.const 36))))
        (if (i32.le_s (local.get $col) (local.get $colEnd))
          (then
            ;; The profile spans the first sample's k = -1 column to the last's k = 1 plus lag.
            (local.set $spanStart (i32.load offset=12 (local.get $col)))
            (local.set $spanBytes (i32.shl (i32.sub
              (i32.add (i32.load offset=20 (local.get $colEnd)) (local.get $lag))
              (local.get $spanStart)) (i32.const 2)))
            (local.set $top (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (i32.load offset=12 (local.get $rec)) (local.get $spanStart)) (i32.const 2))))
            (local.set $middle (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (i32.load offset=16 (local.get $rec)) (local.get $spanStart)) (i32.const 2))))
            (local.set $bottom (i32.add (local.get $dataPtr)
              (i32.shl (i32.add (i32.load offset=20 (local.get $rec)) (local.get $spanStart)) (i32.const 2))))
            (local.set $x (i32.const 0))
            (block $profileDone
              (loop $profile
                (br_if $profileDone (i32.gt_s (local.get $x) (local.get $spanBytes)))
                (local.set $t (v128.load (i32.add (local.get $top) (local.get $x))))
                (local.set $u (v128.load (i32.add (local.get $middle) (local.get $x))))
                (local.set $v (v128.load (i32.add (local.get $bottom) (local.get $x))))
                (v128.store (i32.add (local.get $profilePtr) (local.get $x))
                  (f32x4.max (f32x4.max (local.get $t) (local.get $u)) (local.get $v)))
                (v128.store (i32.add (local.get $minPtr) (local.get $x))
                  (f32x4.min (f32x4.min (local.get $t) (local.get $u)) (local.get $v)))
                (local.set $x (i32.add (local.get $x) (i32.const 16)))
                (br $profile)))
            (block $samplesDone
              (loop $samples
                (br_if $samplesDone (i32.gt_s (local.get $col) (local.get $colEnd)))
                ;; The sample's three +b columns in the profile (bytes), p in lane 0, q in lane 1.
                (local.set $c0 (i32.shl (i32.sub (i32.load offset=12 (local.get $col)) (local.get $spanStart)) (i32.const 2)))
                (local.set $c1 (i32.shl (i32.sub (i32.load offset=16 (local.get $col)) (local.get $spanStart)) (i32.const 2)))
                (local.set $c2 (i32.shl (i32.sub (i32.load offset=20 (local.get $col)) (local.get $spanStart)) (i32.const 2)))
                (local.set $a (v128.load32_lane 1 (i32.add (i32.add (local.get $profilePtr) (local.get $c0)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $profilePtr) (local.get $c0)))))
                (local.set $b (v128.load32_lane 1 (i32.add (i32.add (local.get $profilePtr) (local.get $c1)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $profilePtr) (local.get $c1)))))
                (local.set $c (v128.load32_lane 1 (i32.add (i32.add (local.get $profilePtr) (local.get $c2)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $profilePtr) (local.get $c2)))))
                (local.set $hi (f32x4.max (f32x4.max (local.get $a) (local.get $b)) (local.get $c)))
                (local.set $a (v128.load32_lane 1 (i32.add (i32.add (local.get $minPtr) (local.get $c0)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $minPtr) (local.get $c0)))))
                (local.set $b (v128.load32_lane 1 (i32.add (i32.add (local.get $minPtr) (local.get $c1)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $minPtr) (local.get $c1)))))
                (local.set $c (v128.load32_lane 1 (i32.add (i32.add (local.get $minPtr) (local.get $c2)) (local.get $lagBytes))
                  (v128.load32_zero (i32.add (local.get $minPtr) (local.get $c2)))))
                (local.set $lo (f32x4.min (f32x4.min (local.get $a) (local.get $b)) (local.get $c)))
                (local.set $pass (f64x2.le
                  (f64x2.sub (f64x2.promote_low_f32x4 (local.get $hi)) (f64x2.promote_low_f32x4 (local.get $lo)))
                  (local.get $gates)))
                (if (i32.eqz (i64x2.all_true (local.get $pass)))
                  (then
                    ;; The -b range where the +b one failed (computed for both lanes: a lane
                    ;; that passed stays passed).
                    (local.set $r0 (i32.load offset=24 (local.get $rec)))
                    (local.set $r1 (i32.load offset=28 (local.get $rec)))
                    (local.set $r2 (i32.load offset=32 (local.get $rec)))
                    (local.set $c0 (i32.load offset=24 (local.get $col)))
                    (local.set $c1 (i32.load offset=28 (local.get $col)))
                    (local.set $c2 (i32.load offset=32 (local.get $col)))
                    (local.set $a (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r0) (local.get $c0)) (local.get $lagBytes)))
                    (local.set $b (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r0) (local.get $c1)) (local.get $lagBytes)))
                    (local.set $c (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r0) (local.get $c2)) (local.get $lagBytes)))
                    (local.set $hi (f32x4.max (f32x4.max (local.get $a) (local.get $b)) (local.get $c)))
                    (local.set $lo (f32x4.min (f32x4.min (local.get $a) (local.get $b)) (local.get $c)))
                    (local.set $a (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r1) (local.get $c0)) (local.get $lagBytes)))
                    (local.set $b (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r1) (local.get $c1)) (local.get $lagBytes)))
                    (local.set $c (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r1) (local.get $c2)) (local.get $lagBytes)))
                    (local.set $hi (f32x4.max (local.get $hi) (f32x4.max (f32x4.max (local.get $a) (local.get $b)) (local.get $c))))
                    (local.set $lo (f32x4.min (local.get $lo) (f32x4.min (f32x4.min (local.get $a) (local.get $b)) (local.get $c))))
                    (local.set $a (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r2) (local.get $c0)) (local.get $lagBytes)))
                    (local.set $b (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r2) (local.get $c1)) (local.get $lagBytes)))
                    (local.set $c (call $pixelPair (local.get $dataPtr) (i32.add (local.get $r2) (local.get $c2)) (local.get $lagBytes)))
                    (local.set $hi (f32x4.max (local.get $hi) (f32x4.max (f32x4.max (local.get $a) (local.get $b)) (local.get $c))))
                    (local.set $lo (f32x4.min (local.get $lo) (f32x4.min (f32x4.min (local.get $a) (local.get $b)) (local.get $c))))
                    (local.set $pass (v128.or (local.get $pass) (f64x2.le
                      (f64x2.sub (f64x2.promote_low_f32x4 (local.get $hi)) (f64x2.promote_low_f32x4 (local.get $lo)))
                      (local.get $gates))))))
                (if (i64x2.all_true (local.get $pass))
                  (then
                    (f64.store (local.get $write) (f64.load (local.get $read)))
                    (local.set $write (i32.add (local.get $write) (i32.const 8)))))
                (local.set $read (i32.add (local.get $read) (i32.const 8)))
                (local.set $col (i32.add (local.get $col) (i32.const 36)))
                (br $samples)))))
        (local.set $rec (i32.add (local.get $rec) (i32.const 44)))
        (br $rows)))
    (i32.shr_u (i32.sub (local.get $write) (local.get $diffsPtr)) (i32.const 3)))

  ;; The float32 at pixel index `index` of the map at dataPtr in lane 0, the one lagBytes on in
  ;; lane 1, zeros in lanes 2 and 3.
  (func $pixelPair (param $dataPtr i32) (param $index i32) (param $lagBytes i32) (result v128)
    (local $at i32)
    (local.set $at (i32.add (local.get $dataPtr) (i32.shl (local.get $index) (i32.const 2))))
    (v128.load32_lane 1 (i32.add (local.get $at) (local.get $lagBytes)) (v128.load32_zero (local.get $at))))

  ;; The lattice search's lag scan (lattice.ts lagCosts, where every shifted point stays inside
  ;; the map): for each lag l, the sum over the points, in their order, of (base - sample)^2,
  ;; where sample is the bilinear value of the map at dataPtr (width px per row) at the point
  ;; moved by the lag's shift. Two lags per step in f64x2 lanes; each lane is bilinearInside's
  ;; double operations in its order: x0 = floor(x), fx = x - x0, index y0 * width + x0 (exact
  ;; integers), a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy summed left to right,
  ;; then sum + d * d. Points are f64 triples (x, y, base) at pointsPtr; shifts per pair of lags
  ;; 32 bytes at shiftsPtr (the pair's two x shifts, then its two y shifts); the sums (f64, one per
  ;; lag, zeroed by the caller) at sumsPtr.
  (func (export "lagCosts")
    (param $dataPtr i32) (param $width i32) (param $pointsPtr i32) (param $count i32)
    (param $shiftsPtr i32) (param $pairs i32) (param $sumsPtr i32)
    (local $p i32) (local $pointsEnd i32) (local $s i32) (local $o i32) (local $oEnd i32)
    (local $rowBytes i32) (local $at0 i32) (local $at1 i32)
    (local $x v128) (local $y v128) (local $base v128) (local $px v128) (local $py v128)
    (local $x0 v128) (local $y0 v128) (local $fx v128) (local $fy v128) (local $index v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $diff v128)
    (local $widths v128)
    (local.set $widths (i32x4.splat (local.get $width)))
    (local.set $rowBytes (i32.shl (local.get $width) (i32.const 2)))
    (local.set $p (local.get $pointsPtr))
    (local.set $pointsEnd (i32.add (local.get $pointsPtr) (i32.mul (local.get $count) (i32.const 24))))
    (local.set $oEnd (i32.add (local.get $sumsPtr) (i32.shl (local.get $pairs) (i32.const 4))))
    (block $pointsDone
      (loop $points
        (br_if $pointsDone (i32.ge_u (local.get $p) (local.get $pointsEnd)))
        (local.set $x (f64x2.splat (f64.load (local.get $p))))
        (local.set $y (f64x2.splat (f64.load offset=8 (local.get $p))))
        (local.set $base (f64x2.splat (f64.load offset=16 (local.get $p))))
        (local.set $s (local.get $shiftsPtr))
        (local.set $o (local.get $sumsPtr))
        (block $lagsDone
          (loop $lags
            (br_if $lagsDone (i32.ge_u (local.get $o) (local.get $oEnd)))
            (local.set $px (f64x2.add (local.get $x) (v128.load (local.get $s))))
            (local.set $py (f64x2.add (local.get $y) (v128.load offset=16 (local.get $s))))
            (local.set $x0 (f64x2.floor (local.get $px)))
            (local.set $y0 (f64x2.floor (local.get $py)))
            (local.set $fx (f64x2.sub (local.get $px) (local.get $x0)))
            (local.set $fy (f64x2.sub (local.get $py) (local.get $y0)))
            (local.set $index (i32x4.add
              (i32x4.mul (i32x4.trunc_sat_f64x2_s_zero (local.get $y0)) (local.get $widths))
              (i32x4.trunc_sat_f64x2_s_zero (local.get $x0))))
            (local.set $at0 (i32.add (local.get $dataPtr) (i32.shl (i32x4.extract_lane 0 (local.get $index)) (i32.const 2))))
            (local.set $at1 (i32.add (local.get $dataPtr) (i32.shl (i32x4.extract_lane 1 (local.get $index)) (i32.const 2))))
            (local.set $a (f64x2.promote_low_f32x4 (v128.load32_lane 1 (local.get $at1) (v128.load32_zero (local.get $at0)))))
            (local.set $b (f64x2.promote_low_f32x4 (v128.load32_lane offset=4 1 (local.get $at1) (v128.load32_zero offset=4 (local.get $at0)))))
            (local.set $at0 (i32.add (local.get $at0) (local.get $rowBytes)))
            (local.set $at1 (i32.add (local.get $at1) (local.get $rowBytes)))
            (local.set $c (f64x2.promote_low_f32x4 (v128.load32_lane 1 (local.get $at1) (v128.load32_zero (local.get $at0)))))
            (local.set $d (f64x2.promote_low_f32x4 (v128.load32_lane offset=4 1 (local.get $at1) (v128.load32_zero offset=4 (local.get $at0)))))
            ;; base - (((a + (b - a) * fx) + (c - a) * fy) + (((a - b) - c) + d) * fx * fy)
            (local.set $diff (f64x2.sub (local.get $base) (f64x2.add
              (f64x2.add
                (f64x2.add (local.get $a) (f64x2.mul (f64x2.sub (local.get $b) (local.get $a)) (local.get $fx)))
                (f64x2.mul (f64x2.sub (local.get $c) (local.get $a)) (local.get $fy)))
              (f64x2.mul (f64x2.mul
                (f64x2.add (f64x2.sub (f64x2.sub (local.get $a) (local.get $b)) (local.get $c)) (local.get $d))
                (local.get $fx)) (local.get $fy)))))
            (v128.store (local.get $o) (f64x2.add (v128.load (local.get $o))
              (f64x2.mul (local.get $diff) (local.get $diff))))
            (local.set $s (i32.add (local.get $s) (i32.const 32)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br $lags)))
        (local.set $p (i32.add (local.get $p) (i32.const 24)))
        (br $points))))
)
