"""Postures scored by hand from the published RULA and REBA worksheets (the tests' truth).

Each case gives the measured angles (deg) and the step's inputs, then the sub-scores read by
hand, step by step, from the worksheets and tables of McAtamney and Corlett (1993, RULA) and
Hignett and McAtamney (2000, REBA). The comment above each case is its derivation:

    RULA  UA upper arm, LA lower arm, WR wrist, WT wrist twist, A = Table A[UA][LA][WR][WT],
          MU muscle use, FL force/load, C = A + MU + FL, N neck, T trunk, L legs,
          B = Table B[N][T][L], D = B + MU + FL, G = Table C[min(C, 8)][min(D, 7)], AL action level
    REBA  n neck, t trunk, l legs, TA = Table A[t][n][l], ld load, SA = TA + ld, ua upper arm,
          la lower arm, wr wrist, TB = Table B[ua][la][wr], cp coupling, SB = TB + cp,
          TC = Table C[min(SA, 12)][min(SB, 12)], act activity, R = TC + act, risk level

Words the worksheets leave to the eye use scoring.worksheet.Thresholds' defaults: upright or
neutral within 5 deg (a neck below -5 deg is in extension), twisted or side bending beyond
10 deg, abducted beyond 45 deg, wrist deviated beyond 10 deg; a value on a band's boundary
belongs to the lower band. Both arms take the same posture unless said otherwise. Angles not
given: trunk 0, neck 5, upper arm flexion 10 (elevation 10), abduction 0, elbow 80, wrist 0,
knee 10, both feet supported, no flags.
"""
import math

RULA_KEYS = ("rula_left_upper_arm", "rula_left_lower_arm", "rula_left_wrist", "rula_left_wrist_twist",
             "rula_left_table_a", "rula_muscle_use", "rula_force_load", "rula_left_wrist_arm", "rula_neck",
             "rula_trunk", "rula_legs", "rula_table_b", "rula_neck_trunk_leg", "rula_score", "rula_action_level")
REBA_KEYS = ("reba_neck", "reba_trunk", "reba_legs", "reba_table_a", "reba_load", "reba_score_a",
             "reba_left_upper_arm", "reba_left_lower_arm", "reba_left_wrist", "reba_left_table_b", "reba_coupling",
             "reba_left_score_b", "reba_table_c", "reba_activity", "reba_score", "reba_risk_level")

# (name, posture, inputs, RULA (UA LA WR WT A MU FL C N T L B D G AL), REBA (n t l TA ld SA ua la wr TB cp SB TC act R risk))
CASES = [
    # RULA UA 10->1 LA 80->1 WR 0->1 WT 1 A[1][1][1][1]=1 C=1; N 5->1 T 0->1 L 1 B[1][1][1]=1 D=1; G C1D1=1 AL1.
    # REBA n1 t1 l1 (knee 10) TA[1][1][1]=1 ld0 SA1; ua1 la1 wr1 TB[1][1][1]=1 cp0 SB1; TC[1][1]=1 act0 R1 risk0.
    ("neutral standing", {}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
     (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA UA1 LA 50->2 WR 10->2 WT1 A[1][2][2][1]=2 C=2; N 15->2 T 15->2 L1 B[2][2][1]=2 D=2; G C2D2=2 AL1.
    # REBA n 15->1 t 15->2 l1 TA[2][1][1]=2 SA2; ua1 la2 wr 10->1 TB[1][2][1]=1 SB1; TC[2][1]=1 R1 risk0.
    ("slight bend", {"trunk": 15, "neck": 15, "elbow": 50, "wrist": 10}, {},
     (1, 2, 2, 1, 2, 0, 0, 2, 2, 2, 1, 2, 2, 2, 1), (1, 2, 1, 2, 0, 2, 1, 2, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA UA 30->2 LA 110->2 WR 20->3 WT1 A[2][2][3][1]=3 MU0 FL 3 kg intermittent=1 C=4; N 25->3 T 40->3 L1
    #      B[3][3][1]=4 D=5; G C4D5=5 AL3.
    # REBA n 25->2 t 40->3 l1 TA[3][2][1]=4 ld 3 kg=0 SA4; ua2 la2 wr 20->2 TB[2][2][2]=3 SB3; TC[4][3]=4 R4 risk2.
    ("reach over a bench", {"trunk": 40, "neck": 25, "arm": 30, "elbow": 110, "wrist": 20}, {"load_kg": 3},
     (2, 2, 3, 1, 3, 0, 1, 4, 3, 3, 1, 4, 5, 5, 3), (2, 3, 1, 4, 0, 4, 2, 2, 2, 3, 0, 3, 4, 0, 4, 2)),
    # RULA UA 60->3 LA 90->1 WR1 WT1 A[3][1][1][1]=3 MU repeated=1 FL 8 kg repeated=2 C=6; N 30->3 T 70->4 L1
    #      B[3][4][1]=5 D=8; G C6D7=7 AL4.
    # REBA n2 t 70->4 l 1+1 (knee 40) =2 TA[4][2][2]=6 ld 8 kg=1 SA7; ua3 la1 wr1 TB[3][1][1]=3 SB3; TC[7][3]=7
    #      act repeated=1 R8 risk3.
    ("deep stoop, repeated 8 kg", {"trunk": 70, "neck": 30, "arm": 60, "elbow": 90, "knee": 40},
     {"load_kg": 8, "repeated": True}, (3, 1, 1, 1, 3, 1, 2, 6, 3, 4, 1, 5, 8, 7, 4),
     (2, 4, 2, 6, 1, 7, 3, 1, 1, 3, 0, 3, 7, 1, 8, 3)),
    # RULA UA 100->4 LA 30->2 WR1 WT1 A[4][2][1][1]=4 C=4; B=1 D=1; G C4D1=3 AL2.
    # REBA TA1 SA1; ua4 la2 wr1 TB[4][2][1]=5 SB5; TC[1][5]=3 R3 risk1.
    ("arm overhead, elbow straight", {"arm": 100, "elbow": 30}, {}, (4, 2, 1, 1, 4, 0, 0, 4, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 4, 2, 1, 5, 0, 5, 3, 0, 3, 1)),
    # RULA arm 30 deg behind: extension > 20 -> UA2; LA1 WR1 WT1 A[2][1][1][1]=2 C=2; D=1; G C2D1=2 AL1.
    # REBA ua2 la1 wr1 TB[2][1][1]=1 SB1; TC[1][1]=1 R1 risk0.
    ("arm in extension 30", {"arm": -30}, {}, (2, 1, 1, 1, 2, 0, 0, 2, 1, 1, 1, 1, 1, 2, 1),
     (1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA extension 15 -> UA1; WR 0->1 +1 deviated (15) =2; A[1][1][2][1]=2 C=2; D=1; G C2D1=2 AL1.
    # REBA ua1 la1 wr 1+1 deviated =2 TB[1][1][2]=2 SB2; TC[1][2]=1 R1 risk0.
    ("extension 15, wrist deviated", {"arm": -15, "dev": 15}, {}, (1, 1, 2, 1, 2, 0, 0, 2, 1, 1, 1, 1, 1, 2, 1),
     (1, 1, 1, 1, 0, 1, 1, 1, 2, 2, 0, 2, 1, 0, 1, 0)),
    # RULA abduction 60 (elevation 60) -> 3, +1 abducted =4; LA1 WR1 A[4][1][1][1]=4 C=4; D=1; G C4D1=3 AL2.
    # REBA ua4 la1 wr1 TB[4][1][1]=4 SB4; TC[1][4]=2 R2 risk1.
    ("arm out sideways 60", {"arm": 0, "abd": 60}, {}, (4, 1, 1, 1, 4, 0, 0, 4, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 4, 1, 1, 4, 0, 4, 2, 0, 2, 1)),
    # RULA abduction 40 (elevation 40, not "abducted") -> 2, +1 shoulder raised =3; A[3][1][1][1]=3 C=3; D=1;
    #      G C3D1=3 AL2.
    # REBA ua3 la1 wr1 TB[3][1][1]=3 SB3; TC[1][3]=1 R1 risk0.
    ("shrug, arm out 40", {"arm": 0, "abd": 40, "raised": 1}, {}, (3, 1, 1, 1, 3, 0, 0, 3, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 3, 1, 1, 3, 0, 3, 1, 0, 1, 0)),
    # RULA UA 120->4 +1 raised =5; LA 120->2; WR 20->3 +1 deviated =4; WT end=2; A[5][2][4][2]=7; MU static=1 FL0
    #      C=8; B1 D=2; G C8D2=5 AL3.
    # REBA ua5 la2 wr 2+1 =3 TB[5][2][3]=8 SB8; TA1 SA1; TC[1][8]=5 act static=1 R6 risk2.
    ("overhead hold, wrist bent", {"arm": 120, "raised": 1, "elbow": 120, "wrist": 20, "dev": 15},
     {"wrist_twist": "end", "static_posture": True}, (5, 2, 4, 2, 7, 1, 0, 8, 1, 1, 1, 1, 2, 5, 3),
     (1, 1, 1, 1, 0, 1, 5, 2, 3, 8, 0, 8, 5, 1, 6, 2)),
    # RULA UA 30->2 -1 supported =1; A1 C1; D1; G1 AL1.   REBA ua1 TB1 SB1 TC1 R1 risk0.
    ("arm supported", {"arm": 30}, {"arm_supported": True}, (1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
     (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA UA 1-1 -> kept at 1; C1; T 0->1 +1 side bending (15) =2; B[1][2][1]=2 D2; G C1D2=2 AL1.
    # REBA t 1+1 =2 TA[2][1][1]=2 SA2; TB1 SB1; TC[2][1]=1 R1 risk0.
    ("supported, trunk side bend", {"trunk_side": 15}, {"arm_supported": True},
     (1, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 2, 2, 2, 1), (1, 2, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA T 10->2 +1 twisted (20) +1 side bending (15) =4; B[1][4][1]=5 D5; C1; G C1D5=4 AL2.
    # REBA t 2+1 (twisted or side bent, once) =3 TA[3][1][1]=2 SA2; TC[2][1]=1 R1 risk0.
    ("trunk twisted and side bent", {"trunk": 10, "trunk_twist": 20, "trunk_side": 15}, {},
     (1, 1, 1, 1, 1, 0, 0, 1, 1, 4, 1, 5, 5, 4, 2), (1, 3, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA trunk extension 10 -> 2; B[1][2][1]=2 D2; G C1D2=2 AL1.   REBA t 2 TA[2][1][1]=2 SA2 TC[2][1]=1 R1.
    ("trunk extension 10", {"trunk": -10}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 2, 2, 2, 1),
     (1, 2, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA trunk extension 30 (> 20, REBA's band) -> 3; B[1][3][1]=3 D3; G C1D3=3 AL2.
    # REBA t 3 TA[3][1][1]=2 SA2 TC[2][1]=1 R1 risk0.
    ("trunk extension 30", {"trunk": -30}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 1, 3, 1, 3, 3, 3, 2),
     (1, 3, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA T 3 (upright) ->1; N 12->2; B[2][1][1]=2 D2; G C1D2=2 AL1.   REBA n1 t1 TA1 R1.
    ("head down 12", {"trunk": 3, "neck": 12}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 2, 1, 1, 2, 2, 2, 1),
     (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA neck extension (-15) -> 4; B[4][1][1]=5 D5; G C1D5=4 AL2.   REBA n 2 TA[1][2][1]=1 SA1 TC1 R1 risk0.
    ("looking up", {"neck": -15}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 4, 1, 1, 5, 5, 4, 2),
     (2, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA neck -3 (not extension) ->1 +1 twisted (20) +1 side bending (15) =3; B[3][1][1]=3 D3; G C1D3=3 AL2.
    # REBA n 1+1 =2 TA[1][2][1]=1 R1 risk0.
    ("head turned and tilted", {"neck": -3, "neck_twist": 20, "neck_side": 15}, {},
     (1, 1, 1, 1, 1, 0, 0, 1, 3, 1, 1, 3, 3, 3, 2), (2, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA N 25->3 +1 twisted =4; T 25->3 +1 twisted =4; L1; B[4][4][1]=7 D7; G C1D7=5 AL3.
    # REBA n 2+1 =3 t 3+1 =4 l1 TA[4][3][1]=6 SA6; TB1 SB1; TC[6][1]=6 R6 risk2.
    ("twisted bend", {"neck": 25, "neck_twist": 15, "trunk": 25, "trunk_twist": 15}, {},
     (1, 1, 1, 1, 1, 0, 0, 1, 4, 4, 1, 7, 7, 5, 3), (3, 4, 1, 6, 0, 6, 1, 1, 1, 1, 0, 1, 6, 0, 6, 2)),
    # RULA L 2 (one foot); B[1][1][2]=3 D3; G C1D3=3 AL2.   REBA l 2 (+0, knee 20) TA[1][1][2]=2 SA2 TC[2][1]=1 R1.
    ("one foot", {"supported": 0, "knee": 20}, {}, (1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2, 3, 3, 3, 2),
     (1, 1, 2, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA N 10->1 T 30->3 L2 B[1][3][2]=4 D4; G C1D4=3 AL2.
    # REBA n1 t3 l 2+2 (knee 70) =4 TA[3][1][4]=6 SA6; TC[6][1]=6 R6 risk2.
    ("one foot, knee 70", {"supported": 0, "knee": 70, "trunk": 30, "neck": 10}, {},
     (1, 1, 1, 1, 1, 0, 0, 1, 1, 3, 2, 4, 4, 3, 2), (1, 3, 4, 6, 0, 6, 1, 1, 1, 1, 0, 1, 6, 0, 6, 2)),
    # RULA UA 50->3 LA 70->1 WR 10->2 WT1 A[3][1][2][1]=4 FL 12 kg intermittent=2 C6; N 30->3 T 45->3 L1
    #      B[3][3][1]=4 D6; G C6D6=7 AL4.
    # REBA n2 t3 l 1+2 (knee 100) =3 TA[3][2][3]=6 ld 12 kg=2 SA8; ua3 la1 wr1 TB[3][1][1]=3 cp fair=1 SB4;
    #      TC[8][4]=9 R9 risk3.
    ("squat lift 12 kg", {"knee": 100, "trunk": 45, "neck": 30, "arm": 50, "elbow": 70, "wrist": 10},
     {"load_kg": 12, "coupling": "fair"}, (3, 1, 2, 1, 4, 0, 2, 6, 3, 3, 1, 4, 6, 7, 4),
     (2, 3, 3, 6, 2, 8, 3, 1, 1, 3, 1, 4, 9, 0, 9, 3)),
    # RULA FL 10 kg intermittent ("10 kg or more intermittent") =2; C=3 D=3; G C3D3=3 AL2.
    # REBA ld 10 kg ("5-10 kg") =1 SA2; TC[2][1]=1 R1 risk0.
    ("10 kg intermittent", {}, {"load_kg": 10}, (1, 1, 1, 1, 1, 0, 2, 3, 1, 1, 1, 1, 3, 3, 2),
     (1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA MU static=1 FL 10 kg static=3 C=5 D=5; G C5D5=6 AL3.   REBA ld1 SA2 TC[2][1]=1 act static=1 R2 risk1.
    ("10 kg held", {}, {"load_kg": 10, "static_posture": True}, (1, 1, 1, 1, 1, 1, 3, 5, 1, 1, 1, 1, 5, 6, 3),
     (1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 1, 2, 1)),
    # RULA FL shock =3 C=4 D=4; G C4D4=4 AL2.   REBA ld 0 (+1 shock) =1 SA2 TC[2][1]=1 R1 risk0.
    ("hammer blow", {}, {"load_kg": 1.5, "shock": True}, (1, 1, 1, 1, 1, 0, 3, 4, 1, 1, 1, 1, 4, 4, 2),
     (1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA MU repeated=1 FL 4.9 kg repeated=2 C=4 D=4; G C4D4=4 AL2.
    # REBA ld 4.9 kg=0 SA1 TC1 act repeated+rapid=2 R3 risk1.
    ("4.9 kg repeated, rapid", {}, {"load_kg": 4.9, "repeated": True, "rapid_changes": True},
     (1, 1, 1, 1, 1, 1, 2, 4, 1, 1, 1, 1, 4, 4, 2), (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 2, 3, 1)),
    # RULA FL 5 kg intermittent=1 C2 D2; G C2D2=2 AL1.   REBA ld 5 kg=1 SA2 TC[2][1]=1 R1 risk0.
    ("5 kg intermittent", {}, {"load_kg": 5}, (1, 1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 1, 2, 2, 1),
     (1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA UA 70->3 LA 40->2 WR 20->3 A[3][2][3][1]=4 C4; D1; G C4D1=3 AL2.
    # REBA ua3 la2 wr2 TB[3][2][2]=5 cp unacceptable=3 SB8; TC[1][8]=5 R5 risk2.
    ("bad grip", {"arm": 70, "elbow": 40, "wrist": 20}, {"coupling": "unacceptable"},
     (3, 2, 3, 1, 4, 0, 0, 4, 1, 1, 1, 1, 1, 3, 2), (1, 1, 1, 1, 0, 1, 3, 2, 2, 5, 3, 8, 5, 0, 5, 2)),
    # RULA UA 100->4 +1 raised =5 LA1 WR1 A[5][1][1][1]=5 C5; D1; G C5D1=4 AL2.
    # REBA ua5 la1 wr1 TB[5][1][1]=6 cp poor=2 SB8; TC[1][8]=5 R5 risk2.
    ("overhead, poor grip", {"arm": 100, "raised": 1}, {"coupling": "poor"},
     (5, 1, 1, 1, 5, 0, 0, 5, 1, 1, 1, 1, 1, 4, 2), (1, 1, 1, 1, 0, 1, 5, 1, 1, 6, 2, 8, 5, 0, 5, 2)),
    # RULA arm flexion 150, abduction 60: elevation acos(cos60 cos150) = 115.7 -> 4 +1 raised +1 abducted =6;
    #      LA 130->2 +1 out =3; WR 30->3 +1 deviated =4; WT end=2; A[6][3][4][2]=9; MU1 FL 15 kg static=3 C=13;
    #      N -20 (extension) 4 +1 twisted +1 side =6; T 80->4 +1 +1 =6; L2; B[6][6][2]=9 D=13; G C8D7=7 AL4.
    # REBA n 2+1 =3 t 4+1 =5 l 2+2 (knee 90) =4 TA[5][3][4]=9 ld 15 kg=2 SA11; ua6 la2 wr 2+1 =3 TB[6][2][3]=9
    #      cp unacceptable=3 SB12; TC[11][12]=12 act 1+1+1=3 R15 risk4.
    ("worst case", {"arm": 150, "abd": 60, "raised": 1, "elbow": 130, "across": 1, "wrist": 30, "dev": 20,
                    "neck": -20, "neck_twist": 20, "neck_side": 20, "trunk": 80, "trunk_twist": 15, "trunk_side": 15,
                    "supported": 0, "knee": 90},
     {"load_kg": 15, "static_posture": True, "repeated": True, "rapid_changes": True, "coupling": "unacceptable",
      "wrist_twist": "end"},
     (6, 3, 4, 2, 9, 1, 3, 13, 6, 6, 2, 9, 13, 7, 4), (3, 5, 4, 9, 2, 11, 6, 2, 3, 9, 3, 12, 12, 3, 15, 4)),
    # RULA seated: T 15 -> 1 (seated and supported), L 1; B1 D1; G1 AL1.
    # REBA t 15->2 (no seated rule) l 1 (seated: no knee adjustment) TA[2][1][1]=2 SA2 TC[2][1]=1 R1 risk0.
    ("seated leaning 15", {"trunk": 15, "knee": 90, "supported": 0}, {"sitting": True},
     (1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), (1, 2, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA seated T 30->3 N 15->2 L1 B[2][3][1]=4 D4; G C1D4=3 AL2.   REBA n1 t3 l1 TA[3][1][1]=2 SA2 TC1 R1.
    ("seated leaning 30", {"trunk": 30, "neck": 15, "knee": 90}, {"sitting": True},
     (1, 1, 1, 1, 1, 0, 0, 1, 2, 3, 1, 4, 4, 3, 2), (1, 3, 1, 2, 0, 2, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # Boundaries, lower band: UA 20->1 LA 100->1 WR 5->1 N 10->1 T 5->1, knee 30 -> no adjustment; all 1.
    ("on the boundaries", {"arm": 20, "elbow": 100, "wrist": 5, "neck": 10, "trunk": 5, "knee": 30}, {},
     (1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA UA 45->2 LA 59->2 WR 15->2 A[2][2][2][1]=3 C3; N 20->2 T 20->2 B[2][2][1]=2 D2; G C3D2=3 AL2.
    # REBA n 20->1 t 20->2 l 1+1 (knee 60) =2 TA[2][1][2]=3 SA3; ua2 la2 wr 15->1 TB[2][2][1]=2 SB2; TC[3][2]=3
    #      R3 risk1.
    ("next bands", {"arm": 45, "elbow": 59, "wrist": 15, "neck": 20, "trunk": 20, "knee": 60}, {},
     (2, 2, 2, 1, 3, 0, 0, 3, 2, 2, 1, 2, 2, 3, 2), (1, 2, 2, 3, 0, 3, 2, 2, 1, 2, 0, 2, 3, 0, 3, 1)),
    # RULA UA 90->3 LA1 WR1 A[3][1][1][1]=3 C3; N 21->3 T 60->3 B[3][3][1]=4 D4; G C3D4=4 AL2.
    # REBA n 21->2 t 60->3 l1 TA[3][2][1]=4 SA4; ua3 la1 wr1 TB[3][1][1]=3 SB3; TC[4][3]=4 R4 risk2.
    ("arm level, trunk 60", {"arm": 90, "neck": 21, "trunk": 60}, {},
     (3, 1, 1, 1, 3, 0, 0, 3, 3, 3, 1, 4, 4, 4, 2), (2, 3, 1, 4, 0, 4, 3, 1, 1, 3, 0, 3, 4, 0, 4, 2)),
    # RULA UA 30->2 LA 80->1 +1 across the midline =2 A[2][2][1][1]=3 C3; D1; G C3D1=3 AL2.
    # REBA ua2 la1 (no REBA adjustment) wr1 TB[2][1][1]=1 SB1 TC1 R1 risk0.
    ("working across the body", {"arm": 30, "across": 1}, {}, (2, 2, 1, 1, 3, 0, 0, 3, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA WT end=2 A[1][1][1][2]=2 C2; G C2D1=2 AL1.   REBA wr 1+1 twisted =2 TB[1][1][2]=2 SB2 TC[1][2]=1 R1.
    ("forearm twisted", {}, {"wrist_twist": "end"}, (1, 1, 1, 2, 2, 0, 0, 2, 1, 1, 1, 1, 1, 2, 1),
     (1, 1, 1, 1, 0, 1, 1, 1, 2, 2, 0, 2, 1, 0, 1, 0)),
    # RULA WR 20->3 +1 deviated =4 WT2 A[1][1][4][2]=3 C3; G C3D1=3 AL2.
    # REBA wr 2 +1 (deviated or twisted, once) =3 TB[1][1][3]=2 SB2 TC[1][2]=1 R1 risk0.
    ("wrist bent, deviated and twisted", {"wrist": 20, "dev": 12}, {"wrist_twist": "end"},
     (1, 1, 4, 2, 3, 0, 0, 3, 1, 1, 1, 1, 1, 3, 2), (1, 1, 1, 1, 0, 1, 1, 1, 3, 2, 0, 2, 1, 0, 1, 0)),
    # RULA wrist extension 25 -> 3 +1 ulnar deviation 12 =4 WT1 A[1][1][4][1]=3 C3; G C3D1=3 AL2.
    # REBA wr 2+1 =3 TB[1][1][3]=2 SB2 TC[1][2]=1 R1 risk0.
    ("wrist extended, ulnar", {"wrist": -25, "dev": -12}, {}, (1, 1, 4, 1, 3, 0, 0, 3, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 1, 1, 3, 2, 0, 2, 1, 0, 1, 0)),
    # RULA arm flexion 95, abduction 50: elevation acos(cos50 cos95) = 93.2 -> 4 +1 raised +1 abducted =6;
    #      LA 45->2 WR 18->3 A[6][2][3][1]=8 MU repeated=1 FL 7 kg repeated=2 C=11; N 25->3 T 65->4 +1 twisted =5
    #      L2 B[3][5][2]=7 D=10; G C8D7=7 AL4.
    # REBA n2 t 4+1 =5 l 2+1 (knee 50) =3 TA[5][2][3]=8 ld 7 kg=1 SA9; ua6 la2 wr2 TB[6][2][2]=9 cp poor=2 SB11;
    #      TC[9][11]=12 act repeated=1 R13 risk4.
    ("reaching high on one foot", {"trunk": 65, "trunk_twist": 12, "neck": 25, "knee": 50, "supported": 0, "arm": 95,
                                   "abd": 50, "raised": 1, "elbow": 45, "wrist": 18},
     {"load_kg": 7, "repeated": True, "coupling": "poor"}, (6, 2, 3, 1, 8, 1, 2, 11, 3, 5, 2, 7, 10, 7, 4),
     (2, 5, 3, 8, 1, 9, 6, 2, 2, 9, 2, 11, 12, 1, 13, 4)),
    # RULA arm flexion -60, abduction 50: unit arm forward -0.557, out 0.766: more sideways than backwards, so not
    #      extension; elevation acos(cos50 cos60) = 71.3 -> 3 +1 abducted =4; A[4][1][1][1]=4 C4; G C4D1=3 AL2.
    # REBA ua4 la1 wr1 TB[4][1][1]=4 SB4 TC[1][4]=2 R2 risk1.
    ("arm back and out", {"arm": -60, "abd": 50}, {}, (4, 1, 1, 1, 4, 0, 0, 4, 1, 1, 1, 1, 1, 3, 2),
     (1, 1, 1, 1, 0, 1, 4, 1, 1, 4, 0, 4, 2, 0, 2, 1)),
    # RULA arm flexion -60, abduction 20: forward -0.814, out 0.342: extension of elevation acos(cos20 cos60) = 62
    #      -> 2; A[2][1][1][1]=2 C2; G C2D1=2 AL1.   REBA ua2 TB[2][1][1]=1 SB1 TC1 R1 risk0.
    ("arm far back", {"arm": -60, "abd": 20}, {}, (2, 1, 1, 1, 2, 0, 0, 2, 1, 1, 1, 1, 1, 2, 1),
     (1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 0, 1, 1, 0, 1, 0)),
    # RULA T 61->4 N1 L2 B[1][4][2]=5 FL shock=3 D=8; A1 C=4; G C4D7=6 AL3.
    # REBA t4 n1 l 2+2 (knee 65) =4 TA[4][1][4]=7 ld 11 kg=2 +1 shock =3 SA10; TB1 SB1; TC[10][1]=10 R10 risk3.
    ("jerk from a stoop", {"trunk": 61, "neck": 0, "supported": 0, "knee": 65}, {"load_kg": 11, "shock": True},
     (1, 1, 1, 1, 1, 0, 3, 4, 1, 4, 2, 5, 8, 6, 3), (1, 4, 4, 7, 3, 10, 1, 1, 1, 1, 0, 1, 10, 0, 10, 3)),
    # RULA UA 1-1 -> 1 LA1 WR1 WT1 A1 MU1 FL0 C2; seated T1 L1 N1 B1 D2; G C2D2=2 AL1.
    # REBA n1 t1 l1 TA1 SA1; ua1 la1 wr1 TB1 cp fair=1 SB2; TC[1][2]=1 act 3 R4 risk2.
    ("seated, busy", {"supported": 0}, {"static_posture": True, "repeated": True, "rapid_changes": True,
                                        "coupling": "fair", "arm_supported": True, "sitting": True},
     (1, 1, 1, 1, 1, 1, 0, 2, 1, 1, 1, 1, 2, 2, 1), (1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 2, 1, 3, 4, 2)),
]


def elevation(flexion: float, abduction: float) -> float:
    """The arm's angle from the trunk's downward line, from its sagittal flexion and abduction."""
    return math.degrees(math.acos(math.cos(math.radians(abduction)) * math.cos(math.radians(flexion))))


def posture_angles(posture: dict, sides: tuple[str, ...] = ("left", "right")) -> dict:
    """The angle columns of one posture (defaults in the module docstring)."""
    p = {"trunk": 0, "trunk_side": 0, "trunk_twist": 0, "neck": 5, "neck_side": 0, "neck_twist": 0, "arm": 10,
         "abd": 0, "raised": 0, "elbow": 80, "wrist": 0, "dev": 0, "across": 0, "knee": 10, "supported": 1, **posture}
    cols = {"trunk_flexion": p["trunk"], "trunk_side_bend": p["trunk_side"], "trunk_twist": p["trunk_twist"],
            "neck_flexion": p["neck"], "neck_side_bend": p["neck_side"], "neck_twist": p["neck_twist"],
            "legs_supported": p["supported"]}
    for side in sides:
        cols.update({f"{side}_upper_arm_flexion": p["arm"], f"{side}_upper_arm_abduction": p["abd"],
                     f"{side}_upper_arm_elevation": elevation(p["arm"], p["abd"]), f"{side}_elbow_flexion": p["elbow"],
                     f"{side}_wrist_flexion": p["wrist"], f"{side}_wrist_deviation": p["dev"],
                     f"{side}_knee_flexion": p["knee"], f"{side}_shoulder_raised": p["raised"],
                     f"{side}_arm_across_or_out": p["across"]})
    return cols
