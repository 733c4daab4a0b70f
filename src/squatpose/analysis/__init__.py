"""Squat analysis on joint tracks: angles, view, depth, repetitions, feedback."""
from squatpose.analysis.config import (
           AnalysisConfig,
           config_from_dict,
           load_analysis_config,
)
from squatpose.analysis.pipeline import analyze_tracks
from squatpose.analysis.rep_measures import Repetition
from squatpose.analysis.result import SquatAnalysis

__all__ = ["AnalysisConfig", "Repetition", "SquatAnalysis", "analyze_tracks", "config_from_dict",
           "load_analysis_config"]
