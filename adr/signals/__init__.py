"""What single cases cannot show: signal detection and the signal tracking log, and group
adverse events (GVP 2021 信号检测与评价; Order 81 Art. 27–28, 63: 药品群体不良事件).

`counted` says which cases count and what each names: the catalogue's products and the PTs of
its coded reactions. Detection and the periodic tabulations (`adr.regulator.periodic`) count
from it alone, so that a signal and a PSUR never disagree on a case.
"""
