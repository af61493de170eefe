"""Faces over time: what the frames before this one say about it.

Ids that stay with a face and its smoothed expression (tracks.py); the camera's own motion
(camera_motion.py); a tracked face found again near its box (roi_redetection.py) or kept where
its region has not changed (unchanged_faces.py); when and where the whole frame still needs a
search (search_schedule.py), or runs one beside the next frames (background_search.py); and
whose turn it is to be classified (scheduling.py). Only streams carry this state: stills go
without it (perception/stills.py).
"""
